import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULTS, resolveOptions, scriptOptions } from "../src/options.js";

test("the endpoint defaults to the origin the script was loaded from", () => {
  assert.equal(scriptOptions({}, "https://stats.example.org/metronome.js?v=1").endpoint, "https://stats.example.org");
  assert.equal(scriptOptions({ endpoint: "https://other.example" }, "https://stats.example.org/m.js").endpoint, "https://other.example");
});

test("data attributes are read as the type of their default", () => {
  const o = scriptOptions(
    { key: "pk_1", site: "shop", errors: "false", views: "true", batchSize: "5", flushInterval: "250", downloadExtensions: "csv,kml" },
    "https://s.example/metronome.js",
  );
  assert.deepEqual(
    { key: o.key, site: o.site, errors: o.errors, views: o.views, batchSize: o.batchSize, flushInterval: o.flushInterval, ext: o.downloadExtensions },
    { key: "pk_1", site: "shop", errors: false, views: true, batchSize: 5, flushInterval: 250, ext: "csv,kml" },
  );
  assert.equal("timing" in o, false);
});

test("resolved options fill defaults, ignore undefined and trim the endpoint's slashes", () => {
  const o = resolveOptions({ endpoint: "https://s.example//", timing: false, batchSize: undefined });
  assert.equal(o.endpoint, "https://s.example");
  assert.equal(o.timing, false);
  assert.equal(o.batchSize, DEFAULTS.batchSize);
  assert.equal(resolveOptions(undefined).respectDnt, true);
});
