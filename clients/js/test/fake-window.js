// A fake window for node's tests: the parts of the browser the tracker uses, with a manual
// clock, a recording fetch/sendBeacon and Storage kept in a Map (share one between two
// windows to model the next page of the same site).

export class MemoryStorage {
  constructor() {
    this.map = new Map();
  }
  getItem(key) {
    return this.map.has(key) ? this.map.get(key) : null;
  }
  setItem(key, value) {
    this.map.set(key, String(value));
  }
  removeItem(key) {
    this.map.delete(key);
  }
}

/** An event whose target (and other fields) the test chooses. */
export function fakeEvent(type, fields) {
  const event = new Event(type);
  for (const name in fields) Object.defineProperty(event, name, { value: fields[name] });
  return event;
}

/** A link element as the click handler sees it. */
export function fakeLink(href, attributes = {}) {
  return {
    tagName: "A",
    href,
    parentNode: null,
    hasAttribute: (name) => name in attributes,
    getAttribute: (name) => (name in attributes ? attributes[name] : null),
  };
}

/**
 * @param options.url        the page URL
 * @param options.referrer   document.referrer
 * @param options.storage    localStorage (a MemoryStorage; share it to model the next page)
 * @param options.respond    (request) => {status, headers} | "network-error"; default 202
 * @param options.navigator  extra navigator fields (doNotTrack, globalPrivacyControl, sendBeacon)
 */
export function fakeWindow(options = {}) {
  const win = new EventTarget();
  const timers = [];
  let clock = options.now || 1_700_000_000_000;
  let timerId = 0;
  const requests = [];
  const beacons = [];
  const respond = options.respond || (() => ({ status: 202 }));

  win.document = Object.assign(new EventTarget(), {
    referrer: options.referrer || "",
    readyState: "complete",
    visibilityState: "visible",
  });
  win.location = {};
  const go = (url) => {
    const parsed = new URL(url, win.location.href || undefined);
    Object.assign(win.location, { href: parsed.href, pathname: parsed.pathname, hash: parsed.hash, host: parsed.host });
  };
  go(options.url || "https://shop.example.org/");
  win.history = {
    pushState: (state, title, url) => go(url),
    replaceState: (state, title, url) => go(url),
  };
  win.navigator = {
    sendBeacon(url, body) {
      beacons.push({ url, hits: JSON.parse(body) });
      return true;
    },
    ...options.navigator,
  };
  win.localStorage = options.storage || new MemoryStorage();
  win.sessionStorage = options.sessionStorage || new MemoryStorage();
  win.performance = {
    getEntriesByType: (type) =>
      type === "navigation" ? [{ loadEventStart: 412.6, domContentLoadedEventEnd: 230.2, responseStart: 41.9 }] : [],
  };
  win.crypto = globalThis.crypto;
  win.Date = { now: () => clock };
  win.Math = { random: () => 0.5 };
  win.setTimeout = (fn, ms) => {
    timers.push({ id: ++timerId, at: clock + Math.max(0, ms || 0), fn });
    return timerId;
  };
  win.clearTimeout = (id) => {
    const index = timers.findIndex((timer) => timer.id === id);
    if (index >= 0) timers.splice(index, 1);
  };
  win.fetch = (url, init) => {
    const request = { url, init, hits: JSON.parse(init.body) };
    requests.push(request);
    const answer = respond(request);
    if (answer === "network-error") return Promise.reject(new TypeError("Failed to fetch"));
    const headers = answer.headers || {};
    return Promise.resolve({ status: answer.status, headers: { get: (name) => headers[name] ?? null } });
  };

  return {
    win,
    requests,
    beacons,
    go,
    /** Every hit the server was sent by fetch, in order (resends included). */
    sentHits: () => requests.flatMap((request) => request.hits),
    /** Moves the clock on by `ms`, running due timers and letting promises settle. */
    async tick(ms = 0) {
      const end = clock + ms;
      for (;;) {
        await settle();
        timers.sort((a, b) => a.at - b.at || a.id - b.id);
        const next = timers[0];
        if (!next || next.at > end) break;
        timers.shift();
        clock = Math.max(clock, next.at);
        next.fn();
      }
      clock = end;
      await settle();
    },
    now: () => clock,
  };
}

async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
