import assert from "node:assert/strict";
import { test } from "node:test";
import { dimensionFields, metricChoices, unknownMetrics } from "../src/fields";

const FIELDS = [
  { name: "@timestamp", kind: "date" },
  { name: "bot", kind: "boolean" },
  { name: "event", kind: "keyword" },
  { name: "http.bytes", kind: "number" },
  { name: "message", kind: "text" },
  { name: "site", kind: "keyword" },
];

test("dimensions are keywords, booleans and numbers, without bookkeeping", () => {
  assert.deepEqual(dimensionFields(FIELDS), ["bot", "event", "http.bytes"]);
});

test("metrics are offered only for numeric fields", () => {
  const metrics = metricChoices(FIELDS);
  assert.ok(metrics.includes("count") && metrics.includes("sum:http.bytes") && metrics.includes("p95:http.bytes"));
  assert.ok(!metrics.some((m) => m.endsWith(":event") || m.endsWith(":bot") || m.endsWith(":message")));
  assert.deepEqual(unknownMetrics(["count", "sum:http.bytes", "avg:event"], FIELDS), ["avg:event"]);
});
