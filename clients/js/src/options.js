// The tracker's settings: defaults, init() options, and the script tag's data-* attributes.

import { DOWNLOAD_EXTENSIONS, KEEP_PARAMS } from "./detect.js";

export const DEFAULTS = {
  endpoint: "",
  key: "",
  site: "",
  id: "",
  views: true,
  outbound: true,
  downloads: true,
  errors: true,
  timing: true,
  respectDnt: true,
  downloadExtensions: DOWNLOAD_EXTENSIONS,  // a list or "pdf,csv"
  keepParams: KEEP_PARAMS,  // query parameters sent in URLs: a list or "utm_*,ref"; "*": all
  batchSize: 20,
  flushInterval: 1000,
  maxQueue: 500,
  retryBase: 1000,
  retryMax: 60000,
};

/** Copies the defined values of `from` onto `to`. */
export function assign(to, from) {
  for (const name in from || {}) if (from[name] !== undefined) to[name] = from[name];
  return to;
}

/** init() options over the defaults; the endpoint loses its trailing slash. */
export function resolveOptions(options) {
  const o = assign(assign({}, DEFAULTS), options);
  o.endpoint = String(o.endpoint).replace(/\/+$/, "");
  return o;
}

/**
 * Options from a script tag's data-* attributes (`dataset`, camelCased by the browser):
 * data-endpoint (default: the origin the script came from, `src`), data-key, data-site,
 * data-id, data-views|outbound|downloads|errors|timing|respect-dnt="false",
 * data-download-extensions="pdf,csv", data-keep-params="utm_*,page", data-batch-size, data-flush-interval, data-max-queue,
 * data-retry-base, data-retry-max. Each is read as the type of its default.
 */
export function scriptOptions(dataset, src) {
  const o = { endpoint: src ? new URL(src).origin : "" };
  for (const name in DEFAULTS) {
    const value = dataset[name];
    const type = typeof DEFAULTS[name];
    if (value !== undefined) o[name] = type === "boolean" ? value !== "false" : type === "number" ? +value : value;
  }
  return o;
}
