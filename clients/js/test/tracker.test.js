import assert from "node:assert/strict";
import { test } from "node:test";
import { createTracker } from "../src/tracker.js";
import { MemoryStorage, fakeEvent, fakeLink, fakeWindow } from "./fake-window.js";

const ENDPOINT = "https://stats.example.org";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// Only what a test is about: no automatic timing/error hits unless asked for.
const QUIET = { endpoint: ENDPOINT, timing: false, errors: false };

function start(options = {}, page = {}) {
  const browser = fakeWindow(page);
  const tracker = createTracker({ ...QUIET, ...options }, browser.win);
  return { browser, tracker };
}

const pick = (hits, ...names) => hits.map((hit) => Object.fromEntries(names.map((name) => [name, hit[name]])));

test("the first page view carries the page, referrer, ids and time", async () => {
  const { browser } = start({ key: "pk_1", site: "shop" }, { url: "https://shop.example.org/item/7?ref=mail", referrer: "https://news.example.com/a" });
  await browser.tick(1000);
  assert.equal(browser.requests.length, 1);
  const [request] = browser.requests;
  assert.equal(request.url, `${ENDPOINT}/tick?key=pk_1&site=shop`);
  assert.equal(request.init.method, "POST");
  assert.equal(request.init.headers["Content-Type"], "text/plain");
  assert.equal(request.init.credentials, "omit");
  const [hit] = request.hits;
  assert.equal(hit.event, "view");
  assert.equal(hit.id, "/item/7");
  assert.equal(hit.url, "https://shop.example.org/item/7?ref=mail");
  assert.equal(hit.referrer, "https://news.example.com/a");
  assert.match(hit.hit_id, UUID);
  assert.equal(hit.time, browser.now() - 1000);
  assert.equal(typeof hit.session, "string");
  assert.ok(hit.session.length >= 8);
});

test("URLs lose secrets before they leave the page: fragments, and query parameters not kept", async () => {
  const { browser } = start(
    {},
    {
      url: "https://shop.example.org/reset?token=s3cret&email=a%40b.org&utm_source=mail#access_token=t0k",
      referrer: "https://shop.example.org/login?next=/a&session=abc#x",
    },
  );
  const click = (href) => browser.win.document.dispatchEvent(fakeEvent("click", { target: fakeLink(href) }));
  click("https://partner.example.com/welcome?invite=c0de&ref=shop#frag");
  click("https://shop.example.org/files/report.pdf?signature=abc");
  await browser.tick(1000);
  const [view, outbound, download] = browser.sentHits();
  assert.equal(view.url, "https://shop.example.org/reset?utm_source=mail");
  assert.equal(view.referrer, "https://shop.example.org/login");
  assert.equal(view.id, "/reset");
  assert.equal(outbound.link, "https://partner.example.com/welcome?ref=shop");
  assert.equal(download.link, "https://shop.example.org/files/report.pdf");
  const sent = JSON.stringify(browser.sentHits());
  for (const secret of ["s3cret", "a%40b.org", "t0k", "abc", "c0de", "frag"]) assert.equal(sent.includes(secret), false, secret);
});

test("a hash-route app keeps its route in the URL, without the route's own query", async () => {
  const { browser } = start({}, { url: "https://app.example.org/?utm_medium=ad#/orders/7?token=x" });
  await browser.tick(1000);
  const [hit] = browser.sentHits();
  assert.equal(hit.url, "https://app.example.org/?utm_medium=ad#/orders/7");
  assert.equal(hit.id, "/#/orders/7");
});

test("keepParams chooses the query parameters sent; \"*\" keeps them all", async () => {
  const only = start({ keepParams: ["page"] }, { url: "https://shop.example.org/list?page=2&utm_source=x&q=shoes" });
  const all = start({ keepParams: "*" }, { url: "https://shop.example.org/list?page=2&q=shoes#top" });
  await only.browser.tick(1000);
  await all.browser.tick(1000);
  assert.equal(only.browser.sentHits()[0].url, "https://shop.example.org/list?page=2");
  assert.equal(all.browser.sentHits()[0].url, "https://shop.example.org/list?page=2&q=shoes");
});

test("hits within the flush interval travel in one request; a full batch goes at once", async () => {
  const { browser, tracker } = start({ views: false, batchSize: 3, flushInterval: 1000 });
  tracker.track("signup", { plan: "pro" });
  tracker.track("search", { q: "shoes" });
  await browser.tick(999);
  assert.equal(browser.requests.length, 0);
  await browser.tick(1);
  assert.deepEqual(browser.requests.map((r) => r.hits.map((h) => h.event)), [["signup", "search"]]);
  tracker.track("a");
  tracker.track("b");
  tracker.track("c");
  await browser.tick(0);
  assert.deepEqual(browser.requests.map((r) => r.hits.length), [2, 3]);
  assert.equal(tracker.pending(), 0);
});

test("a single-page app counts each route once: push, replace, anchors, hash routes, back", async () => {
  const { browser } = start({}, { url: "https://shop.example.org/" });
  const { win, go } = browser;
  win.history.pushState({}, "", "/products");
  win.history.replaceState({}, "", "/products"); // same route: a router's bookkeeping
  win.history.replaceState({}, "", "/products?sort=price"); // query only: same page
  go("/products#reviews");
  win.dispatchEvent(new Event("hashchange")); // in-page anchor
  go("/products#/compare");
  win.dispatchEvent(new Event("hashchange")); // hash route
  go("/");
  win.dispatchEvent(new Event("popstate")); // back
  await browser.tick(1000);
  assert.deepEqual(browser.sentHits().map((hit) => hit.id), ["/", "/products", "/products#/compare", "/"]);
  assert.deepEqual(browser.sentHits().map((hit) => "referrer" in hit), [false, false, false, false]);
});

test("failed sends stay in localStorage and are retried with backoff until stored", async () => {
  let up = false;
  const { browser, tracker } = start({ views: false, retryBase: 1000 }, { respond: () => (up ? { status: 202 } : "network-error") });
  tracker.track("signup");
  await browser.tick(1000);
  assert.equal(browser.requests.length, 1);
  assert.equal(tracker.pending(), 1);
  assert.equal(JSON.parse(browser.win.localStorage.getItem("metronome:outbox")).length, 1);
  await browser.tick(749); // first retry after 750 ms (1000 ms, jitter 0.5)
  assert.equal(browser.requests.length, 1);
  await browser.tick(1);
  assert.equal(browser.requests.length, 2);
  await browser.tick(1500); // second retry after 1500 ms
  assert.equal(browser.requests.length, 3);
  up = true;
  await browser.tick(3000);
  assert.equal(browser.requests.length, 4);
  assert.equal(tracker.pending(), 0);
  assert.equal(browser.win.localStorage.getItem("metronome:outbox"), null);
  const ids = new Set(browser.sentHits().map((hit) => hit.hit_id));
  assert.equal(ids.size, 1, "every retry resends the same hit_id");
});

test("503 with Retry-After is honoured", async () => {
  let calls = 0;
  const { browser, tracker } = start({ views: false }, { respond: () => (++calls === 1 ? { status: 503, headers: { "Retry-After": "5" } } : { status: 202 }) });
  tracker.track("x");
  await browser.tick(1000);
  await browser.tick(4999);
  assert.equal(browser.requests.length, 1);
  await browser.tick(1);
  assert.equal(browser.requests.length, 2);
  assert.equal(tracker.pending(), 0);
});

test("hits the server refuses for good (4xx) are dropped, not retried forever", async () => {
  const { browser, tracker } = start({ views: false }, { respond: () => ({ status: 422 }) });
  tracker.track("x", { "bad key": 1 });
  await browser.tick(60_000);
  assert.equal(browser.requests.length, 1);
  assert.equal(tracker.pending(), 0);
});

test("the next page sends what the previous one could not", async () => {
  const storage = new MemoryStorage();
  const first = start({ views: false }, { storage, respond: () => "network-error" });
  first.tracker.track("checkout");
  await first.browser.tick(1000);
  const next = start({ views: false }, { storage });
  await next.browser.tick(0);
  assert.deepEqual(next.browser.sentHits().map((hit) => hit.event), ["checkout"]);
  assert.equal(next.tracker.pending(), 0);
});

test("the outbox is bounded while the server is away", async () => {
  const { browser, tracker } = start({ views: false, maxQueue: 5 }, { respond: () => "network-error" });
  for (let i = 0; i < 8; i++) tracker.track("e" + i);
  await browser.tick(1000);
  assert.equal(tracker.pending(), 5);
  assert.deepEqual(JSON.parse(browser.win.localStorage.getItem("metronome:outbox")).map((hit) => hit.event), ["e3", "e4", "e5", "e6", "e7"]);
});

test("coming back online retries at once", async () => {
  let up = false;
  const { browser, tracker } = start({ views: false, retryBase: 60_000, retryMax: 60_000 }, { respond: () => (up ? { status: 202 } : "network-error") });
  tracker.track("x");
  await browser.tick(1000);
  up = true;
  browser.win.dispatchEvent(new Event("online"));
  await browser.tick(0);
  assert.equal(browser.requests.length, 2);
  assert.equal(tracker.pending(), 0);
});

test("leaving the page hands waiting hits to sendBeacon once, and keeps them until confirmed", async () => {
  const { browser, tracker } = start({ views: false, flushInterval: 5000 });
  tracker.track("a");
  tracker.track("b");
  browser.win.document.visibilityState = "hidden";
  browser.win.document.dispatchEvent(new Event("visibilitychange"));
  browser.win.dispatchEvent(new Event("pagehide"));
  assert.equal(browser.beacons.length, 1, "the same hits are not beaconed twice");
  assert.equal(browser.beacons[0].url, `${ENDPOINT}/tick`);
  assert.deepEqual(browser.beacons[0].hits.map((hit) => hit.event), ["a", "b"]);
  assert.equal(tracker.pending(), 2, "kept until a response confirms them");
  await browser.tick(5000); // the page lived on: fetch confirms (the server stores a hit_id once)
  assert.deepEqual(browser.sentHits().map((hit) => hit.hit_id), browser.beacons[0].hits.map((hit) => hit.hit_id));
  assert.equal(tracker.pending(), 0);
});

test("without a usable sendBeacon the page uses a keepalive fetch", async () => {
  const { browser, tracker } = start({ views: false }, { navigator: { sendBeacon: () => false } });
  tracker.track("a");
  browser.win.dispatchEvent(new Event("pagehide"));
  assert.equal(browser.requests.length, 1);
  assert.equal(browser.requests[0].init.keepalive, true);
});

test("Do Not Track and Global Privacy Control stop all hits unless the site opts out of them", async () => {
  for (const navigator of [{ doNotTrack: "1" }, { globalPrivacyControl: true }]) {
    const { browser, tracker } = start({}, { navigator });
    assert.equal(tracker.track("x"), null);
    await browser.tick(5000);
    assert.equal(browser.requests.length, 0);
  }
  const { browser } = start({ respectDnt: false }, { navigator: { doNotTrack: "1" } });
  await browser.tick(1000);
  assert.equal(browser.sentHits().length, 1);
});

test("opting out persists to the next page and clears waiting hits; opting in resumes", async () => {
  const storage = new MemoryStorage();
  const first = start({ views: false, flushInterval: 5000 }, { storage });
  first.tracker.track("before");
  first.tracker.optOut();
  assert.equal(first.tracker.pending(), 0);
  assert.equal(first.tracker.track("during"), null);
  const next = start({}, { storage });
  await next.browser.tick(5000);
  assert.equal(next.browser.requests.length, 0);
  next.tracker.optIn();
  next.tracker.track("after");
  await next.browser.tick(1000);
  assert.deepEqual(next.browser.sentHits().map((hit) => hit.event), ["after"]);
  assert.equal(first.browser.requests.length, 0);
});

test("outbound links become click events and file links download events with their format", async () => {
  const { browser } = start({ views: false }, { url: "https://shop.example.org/datasets/42" });
  const click = (link) => browser.win.document.dispatchEvent(fakeEvent("click", { target: link }));
  click(fakeLink("https://github.com/metronome"));
  click(fakeLink("https://shop.example.org/files/city.KML"));
  click(fakeLink("https://shop.example.org/export?id=42&utm_source=x", { download: "" }));
  click(fakeLink("https://cdn.example.net/r.pdf", { "data-metronome-id": "report-2026" }));
  click(fakeLink("https://shop.example.org/about")); // an internal page: nothing
  const span = { tagName: "SPAN", parentNode: fakeLink("https://example.com/"), hasAttribute: () => false };
  click(span); // a click inside a link counts for the link
  await browser.tick(1000);
  assert.deepEqual(pick(browser.sentHits(), "event", "id", "format", "link"), [
    { event: "click", id: "/datasets/42", format: undefined, link: "https://github.com/metronome" },
    { event: "download", id: "/datasets/42", format: "kml", link: "https://shop.example.org/files/city.KML" },
    { event: "download", id: "/datasets/42", format: "file", link: "https://shop.example.org/export?utm_source=x" },
    { event: "download", id: "report-2026", format: "pdf", link: "https://cdn.example.net/r.pdf" },
    { event: "click", id: "/datasets/42", format: undefined, link: "https://example.com/" },
  ]);
});

test("uncaught errors and rejections become error events, at most 20 a page", async () => {
  const { browser } = start({ views: false, errors: true, batchSize: 100 });
  browser.win.dispatchEvent(fakeEvent("error", { message: "x is not defined", filename: "https://shop.example.org/app.js", lineno: 3, colno: 14 }));
  browser.win.dispatchEvent(fakeEvent("unhandledrejection", { reason: new Error("quota") }));
  browser.win.dispatchEvent(fakeEvent("unhandledrejection", { reason: "plain string" }));
  for (let i = 0; i < 30; i++) browser.win.dispatchEvent(fakeEvent("error", { message: "loop " + "z".repeat(600), filename: "" }));
  await browser.tick(1000);
  const errors = browser.sentHits();
  assert.equal(errors.length, 20);
  assert.deepEqual(pick(errors.slice(0, 3), "event", "message", "source"), [
    { event: "error", message: "x is not defined", source: "https://shop.example.org/app.js:3:14" },
    { event: "error", message: "quota", source: "unhandledrejection" },
    { event: "error", message: "plain string", source: "unhandledrejection" },
  ]);
  assert.equal(errors[3].message.length, 500, "long messages are cut to fit the server's limits");
});

test("navigation timing becomes one timing event with whole milliseconds", async () => {
  const { browser } = start({ views: false, timing: true });
  await browser.tick(1000);
  assert.deepEqual(pick(browser.sentHits(), "event", "load_ms", "dom_ms", "ttfb_ms"), [{ event: "timing", load_ms: 413, dom_ms: 230, ttfb_ms: 42 }]);
});

test("set() adds parameters to every later hit; view() names an item; per-call values win", async () => {
  const { browser, tracker } = start({ views: false });
  tracker.set({ plan: "pro", ab: "B" });
  tracker.view("dataset-42", { ab: "C" });
  tracker.set({ ab: null });
  tracker.track("download", { format: "csv" });
  await browser.tick(1000);
  assert.deepEqual(pick(browser.sentHits(), "event", "id", "plan", "ab", "format"), [
    { event: "view", id: "dataset-42", plan: "pro", ab: "C", format: undefined },
    { event: "download", id: "/", plan: "pro", ab: undefined, format: "csv" },
  ]);
});

test("data-id fixes the item of every hit, and the session id lasts as long as the tab", async () => {
  const sessionStorage = new MemoryStorage();
  const first = start({ id: "landing" }, { sessionStorage });
  const next = start({ id: "landing" }, { sessionStorage, url: "https://shop.example.org/other" });
  await first.browser.tick(1000);
  await next.browser.tick(1000);
  const [a, b] = [first.browser.sentHits()[0], next.browser.sentHits()[0]];
  assert.deepEqual([a.id, b.id], ["landing", "landing"]);
  assert.equal(a.session, b.session);
  const otherTab = start({}, {});
  await otherTab.browser.tick(1000);
  assert.notEqual(otherTab.browser.sentHits()[0].session, a.session);
});

test("a browser that refuses localStorage still delivers", async () => {
  const browser = fakeWindow({});
  Object.defineProperty(browser.win, "localStorage", {
    get() {
      throw new Error("SecurityError");
    },
  });
  const tracker = createTracker(QUIET, browser.win);
  tracker.track("x");
  await browser.tick(1000);
  assert.deepEqual(browser.sentHits().map((hit) => hit.event), ["view", "x"]);
});
