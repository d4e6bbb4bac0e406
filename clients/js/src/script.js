// The <script> build: reads its own data-* attributes, starts tracking and sets
// window.metronome (the tracker's functions, also callable as metronome("track", ...)).
// Calls queued by a stub before the script loaded,
//   window.metronome = window.metronome || function () { (metronome.q = metronome.q || []).push(arguments) }
// are replayed in order. Add data-manual to start it yourself with metronome.init({...}).

import { scriptOptions } from "./options.js";
import { createTracker } from "./tracker.js";

const queued = (window.metronome && window.metronome.q) || [];
let tracker = null;
const api = function (name) {
  return api[name] && api[name].apply(null, [].slice.call(arguments, 1));
};
api.init = (options) => tracker || Object.assign(api, (tracker = createTracker(options, window))) && tracker;
window.metronome = api;

const script = document.currentScript;
if (script && !script.hasAttribute("data-manual")) api.init(scriptOptions(script.dataset, script.src));
queued.forEach((args) => api.apply(null, args));
