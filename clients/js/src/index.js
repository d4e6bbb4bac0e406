// The ES module: `import { init, track } from "@metronome/tracker"`.

import { createTracker } from "./tracker.js";

export { createTracker } from "./tracker.js";

let tracker = null;
const early = [];

function call(name, args) {
  if (tracker) return tracker[name].apply(null, args);
  early.push([name, args]);
  return null;
}

/** Starts tracking (once; later calls return the same tracker). Calls made before run now. */
export function init(options) {
  if (!tracker) {
    tracker = createTracker(options, window);
    early.splice(0).forEach((queued) => tracker[queued[0]].apply(null, queued[1]));
  }
  return tracker;
}

export const track = (event, params) => call("track", [event, params]);
export const view = (id, params) => call("view", [id, params]);
export const set = (params) => call("set", [params]);
export const optOut = () => call("optOut", []);
export const optIn = () => call("optIn", []);
export const flush = () => (tracker ? tracker.flush() : Promise.resolve());
