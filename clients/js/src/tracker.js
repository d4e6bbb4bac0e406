// The tracker: turns page activity and API calls into hits, keeps them in the outbox and
// delivers them. Everything it touches in the browser it reaches through the `win` it is
// given (the page's window), so node's tests run the same code against a fake window.

import { batches, mustRetry, retryDelay } from "./delivery.js";
import { asksNotToTrack, cleanUrl, downloadFormat, isOutbound, routeOf } from "./detect.js";
import { assign, resolveOptions } from "./options.js";
import { createOutbox } from "./outbox.js";
import { uuid } from "./uuid.js";

const OUTBOX_KEY = "metronome:outbox";
const OPT_OUT_KEY = "metronome:optout";
const SESSION_KEY = "metronome:session";
// keepalive requests may carry 64 KiB in all; stay below it per request.
const UNLOAD_BATCH_BYTES = 60000;
const MAX_ERRORS_PER_PAGE = 20;
const MAX_TEXT = 500;

/** The window's Storage `name`, or null when the browser refuses it (privacy modes, sandboxes). */
function storageOf(win, name) {
  try {
    const storage = win[name];
    storage.getItem(OPT_OUT_KEY);
    return storage;
  } catch (_) {
    return null;
  }
}

export function createTracker(options, win) {
  const o = resolveOptions(options);
  const doc = win.document;
  const nav = win.navigator;
  const loc = win.location;
  const now = () => win.Date.now();
  const newId = () => uuid(win.crypto);
  const clean = (href) => cleanUrl(href, o.keepParams);
  const local = storageOf(win, "localStorage");
  const outbox = createOutbox(local, OUTBOX_KEY, o.maxQueue);
  const query = [];
  if (o.key) query.push("key=" + encodeURIComponent(o.key));
  if (o.site) query.push("site=" + encodeURIComponent(o.site));
  const url = o.endpoint + "/tick" + (query.length ? "?" + query.join("&") : "");
  const props = {};
  const beaconed = {};
  let optedOut = false;
  let timer = null;
  let due = 0;
  let sending = false;
  let attempt = 0;
  let retryAt = 0;
  let lastRoute = null;
  let firstView = true;
  let errorsLeft = MAX_ERRORS_PER_PAGE;
  let memorySession = "";

  function enabled() {
    if (optedOut || (local && local.getItem(OPT_OUT_KEY))) return false;
    return !(o.respectDnt && asksNotToTrack(nav, win));
  }

  // One id per tab (sessionStorage lives as long as the tab); never a cookie.
  function session() {
    const store = storageOf(win, "sessionStorage");
    memorySession = (store && store.getItem(SESSION_KEY)) || memorySession || newId().slice(0, 18);
    if (store) store.setItem(SESSION_KEY, memorySession);
    return memorySession;
  }

  function track(event, params) {
    if (!enabled()) return null;
    const hit = { event: event, id: o.id || routeOf(loc), url: clean(loc.href) };
    hit.session = session();
    assign(assign(hit, props), params);
    if (!hit.hit_id) hit.hit_id = newId();
    if (hit.time === undefined) hit.time = now();
    outbox.add([hit]);
    schedule(outbox.all().length >= o.batchSize ? 0 : o.flushInterval);
    return hit.hit_id;
  }

  function schedule(delay) {
    const at = Math.max(now() + delay, retryAt);
    if (timer !== null) {
      if (due <= at) return;
      win.clearTimeout(timer);
    }
    due = at;
    timer = win.setTimeout(() => {
      timer = null;
      flush();
    }, at - now());
  }

  function post(body, keepalive) {
    return win.fetch(url, {
      method: "POST",
      body: body,
      headers: { "Content-Type": "text/plain" },
      credentials: "omit",
      keepalive: keepalive,
    });
  }

  /** Sends the oldest batch; on success the next one. Resolves when this round is over. */
  function flush() {
    const batch = batches(outbox.all(), o.batchSize, UNLOAD_BATCH_BYTES)[0];
    if (sending || !batch || now() < retryAt) {
      // Busy: the running send goes on with the next batch. Waiting: the timer is set.
      if (batch && !sending) schedule(0);
      return Promise.resolve();
    }
    sending = true;
    return post(JSON.stringify(batch), false)
      .then(
        (response) => [response.status, response.headers.get("Retry-After")],
        () => [0, null],
      )
      .then((answer) => {
        sending = false;
        if (mustRetry(answer[0])) {
          attempt++;
          retryAt = now() + retryDelay(attempt, answer[1], o.retryBase, o.retryMax, win.Math.random);
          schedule(0);
          return;
        }
        attempt = 0;
        retryAt = 0;
        outbox.remove(batch.map((hit) => hit.hit_id));
        if (outbox.all().length) return flush();
      });
  }

  // The page is going away (or may be): hand every waiting hit to the browser, which sends
  // it even after the page is gone. The hits stay in the outbox until a response confirms
  // them, here or on the next page; the server stores a resent hit_id once.
  function flushHidden() {
    const waiting = outbox.all().filter((hit) => !beaconed[hit.hit_id]);
    batches(waiting, 200, UNLOAD_BATCH_BYTES).forEach((batch) => {
      const body = JSON.stringify(batch);
      let handed = false;
      try {
        handed = nav.sendBeacon(url, body);
      } catch (_) {}
      if (!handed) {
        try {
          post(body, true).catch(() => {});
          handed = true;
        } catch (_) {}
      }
      if (handed) batch.forEach((hit) => (beaconed[hit.hit_id] = 1));
    });
  }

  function pageview() {
    const route = routeOf(loc);
    if (route === lastRoute) return;
    lastRoute = route;
    track("view", firstView && doc.referrer ? { referrer: clean(doc.referrer) } : {});
    firstView = false;
  }

  function onClick(event) {
    let link = event.target;
    while (link && !(link.tagName === "A" && typeof link.href === "string" && link.href)) {
      link = link.parentNode;
    }
    if (!link) return;
    const href = clean(link.href);
    const format = o.downloads && downloadFormat(href, o.downloadExtensions, link.hasAttribute("download"));
    if (format) {
      track("download", { format: format, link: href, id: link.getAttribute("data-metronome-id") || undefined });
    } else if (o.outbound && isOutbound(href, loc.host)) {
      track("click", { link: href });
    }
  }

  function reportError(message, source) {
    if (errorsLeft-- > 0) {
      track("error", { message: String(message).slice(0, MAX_TEXT), source: String(source).slice(0, MAX_TEXT) });
    }
  }

  function measureTiming() {
    win.setTimeout(() => {
      const perf = win.performance;
      const nav = perf && perf.getEntriesByType && perf.getEntriesByType("navigation")[0];
      if (nav && nav.loadEventStart > 0) {
        track("timing", {
          load_ms: Math.round(nav.loadEventStart),
          dom_ms: Math.round(nav.domContentLoadedEventEnd),
          ttfb_ms: Math.round(nav.responseStart),
        });
      }
    }, 0);
  }

  if (o.views) {
    ["pushState", "replaceState"].forEach((name) => {
      const original = win.history[name];
      if (!original) return;
      win.history[name] = function () {
        const result = original.apply(this, arguments);
        pageview();
        return result;
      };
    });
    win.addEventListener("popstate", pageview);
    win.addEventListener("hashchange", pageview);
    pageview();
  }
  if (o.outbound || o.downloads) {
    doc.addEventListener("click", onClick, true);
  }
  if (o.errors) {
    win.addEventListener("error", (event) => {
      reportError(event.message, event.filename ? event.filename + ":" + event.lineno + ":" + event.colno : "");
    });
    win.addEventListener("unhandledrejection", (event) => {
      const reason = event.reason;
      reportError((reason && reason.message) || reason, "unhandledrejection");
    });
  }
  if (o.timing) {
    if (doc.readyState === "complete") measureTiming();
    else win.addEventListener("load", measureTiming);
  }
  doc.addEventListener("visibilitychange", () => {
    if (doc.visibilityState === "hidden") flushHidden();
  });
  win.addEventListener("pagehide", flushHidden);
  win.addEventListener("online", () => {
    attempt = 0;
    retryAt = 0;
    schedule(0);
  });
  // Hits an earlier page could not confirm go out now.
  if (outbox.all().length) schedule(0);

  return {
    track: (event, params) => track(String(event), params),
    view: (id, params) => track("view", assign(id ? { id: id } : {}, params)),
    set(params) {
      for (const name in params || {}) {
        if (params[name] === undefined || params[name] === null) delete props[name];
        else props[name] = params[name];
      }
    },
    optOut() {
      optedOut = true;
      if (local) local.setItem(OPT_OUT_KEY, "1");
      outbox.clear();
    },
    optIn() {
      optedOut = false;
      if (local) local.removeItem(OPT_OUT_KEY);
    },
    flush: flush,
    pending: () => outbox.all().length,
  };
}
