// Types of @metronome/tracker (the ES module) and of window.metronome (the <script> build).

/** Values a hit parameter may take: flat, or one level of nested object. */
export type ParamValue = string | number | boolean | null | { [name: string]: string | number | boolean | null };
export type Params = { [name: string]: ParamValue | undefined };

export interface Options {
  /** Where Metronome listens, e.g. "https://stats.example.org". The <script> build defaults to its own origin. */
  endpoint?: string;
  /** A write key of the site (public; goes into the page). */
  key?: string;
  /** The site the hits belong to; default: the key's site or the server's default site. */
  site?: string;
  /** A fixed item id for every hit of the page; default: the page path (and hash route). */
  id?: string;
  /** Automatic page views, SPA route changes included (default true). */
  views?: boolean;
  /** Clicks on links to other hosts, as `click` events (default true). */
  outbound?: boolean;
  /** Clicks on file links, as `download` events with `format` (default true). */
  downloads?: boolean;
  /** Uncaught errors and unhandled rejections, as `error` events (default true). */
  errors?: boolean;
  /** Navigation timing (load_ms, dom_ms, ttfb_ms), as a `timing` event (default true). */
  timing?: boolean;
  /** Send nothing when the browser signals Do Not Track or Global Privacy Control (default true). */
  respectDnt?: boolean;
  /** Extensions that make a link a download (lower case, no dot), as a list or "pdf,csv". */
  downloadExtensions?: string[] | string;
  /**
   * Query parameters kept in the URLs sent (page, referrer, links), as a list or "a,b"; an
   * entry ending in "*" keeps every name it starts, "*" alone keeps all. Default
   * "utm_*,ref". Fragments are never sent, except a hash route ("#/cart", without its query).
   */
  keepParams?: string[] | string;
  /** Hits per request (default 20). */
  batchSize?: number;
  /** Milliseconds a hit may wait for others before it is sent (default 1000). */
  flushInterval?: number;
  /** Most hits kept in localStorage while they cannot be sent (default 500; oldest dropped). */
  maxQueue?: number;
  /** First retry delay in milliseconds (default 1000), doubling up to retryMax (default 60000). */
  retryBase?: number;
  retryMax?: number;
}

export interface Tracker {
  /** Records an event; returns its hit_id, or null when tracking is off (opt-out, DNT/GPC). */
  track(event: string, params?: Params): string | null;
  /** Records a page view of `id` (default: the page path). */
  view(id?: string, params?: Params): string | null;
  /** Parameters added to every later hit; a null or undefined value removes one. */
  set(params: Params): void;
  /** Stops tracking in this browser for this site, remembered in localStorage. */
  optOut(): void;
  optIn(): void;
  /** Sends waiting hits now. */
  flush(): Promise<void>;
  /** How many hits wait for the server's confirmation. */
  pending(): number;
}

export function init(options?: Options): Tracker;
export function track(event: string, params?: Params): string | null;
export function view(id?: string, params?: Params): string | null;
export function set(params: Params): void;
export function optOut(): void;
export function optIn(): void;
export function flush(): Promise<void>;

/**
 * A tracker over a window-like object (the page's `window`, an iframe's, or a test's fake):
 * it uses document, navigator, location, history, performance, localStorage, sessionStorage,
 * fetch, setTimeout, clearTimeout, crypto, Date and Math from it.
 */
export function createTracker(options: Options, win: Window): Tracker;

/** The <script> build's global: the functions above, also callable as metronome("track", ...). */
export interface MetronomeGlobal {
  (name: "track" | "view" | "set" | "optOut" | "optIn" | "flush" | "init", ...args: unknown[]): unknown;
  init: typeof init;
  track: typeof track;
  view: typeof view;
  set: typeof set;
  optOut: typeof optOut;
  optIn: typeof optIn;
  flush: typeof flush;
  /** After init: how many hits wait for the server's confirmation. */
  pending?: () => number;
}

declare global {
  interface Window {
    metronome: MetronomeGlobal;
  }
}
