import assert from "node:assert/strict";
import { test } from "node:test";
import { buildSeries, isolatedAt, sparkRuns, totalOf } from "../src/series";
import type { Row } from "../src/types";

const rows: Row[] = [
  { dimensions: ["2026-11-01"], metrics: [10, 5], compare: { metrics: [8, 4], change: [25, 25] } },
  { dimensions: ["2026-11-02"], metrics: [20, 7], compare: { metrics: [null, null], change: [null, null] } },
  { dimensions: ["2026-11-03"], metrics: [0, 0] },
];

test("the overlay is aligned on the current period's buckets, dashed series after each metric", () => {
  const data = buildSeries(rows, ["count", "visitors"], { overlay: true });
  assert.deepEqual(data.labels, ["2026-11-01", "2026-11-02", "2026-11-03"]);
  assert.deepEqual(data.series.map((s) => [s.key, s.compare]), [["count", false], ["count", true], ["visitors", false], ["visitors", true]]);
  assert.deepEqual(data.series[1].values, [8, null, null]);
  assert.deepEqual(data.series[3].values, [4, null, null]);
});

test("no overlay when asked for none or the answer has no compare", () => {
  assert.equal(buildSeries(rows, ["count", "visitors"], { overlay: false }).series.length, 2);
  const plain = rows.map(({ dimensions, metrics }) => ({ dimensions, metrics }));
  assert.equal(buildSeries(plain, ["count", "visitors"], { overlay: true }).series.length, 2);
});

test("a second dimension splits into its largest values plus Other", () => {
  const split: Row[] = [
    { dimensions: ["d1", "a"], metrics: [5] },
    { dimensions: ["d1", "b"], metrics: [3] },
    { dimensions: ["d2", "c"], metrics: [1] },
    { dimensions: ["d2", "a"], metrics: [2] },
  ];
  const data = buildSeries(split, ["count"], { overlay: false, maxSeries: 2 });
  assert.deepEqual(data.labels, ["d1", "d2"]);
  assert.deepEqual(data.series.map((s) => [s.label, s.values]), [["a", [5, 2]], ["b", [3, 0]], ["Other", [0, 1]]]);
});

test("totals: a dimensionless row, else a sum of additive series with its change", () => {
  assert.deepEqual(totalOf([{ dimensions: [], metrics: [42], compare: { metrics: [21], change: [100] } }], undefined, 0, true), { value: 42, change: 100, previous: 21 });
  assert.deepEqual(totalOf(rows, undefined, 0, true), { value: 30, change: 275, previous: 8 });
  assert.deepEqual(totalOf([], undefined, 0, true), { value: 0, change: null, previous: null });
});

test("a split time series is drawn over every bucket of the range", () => {
  const split: Row[] = [
    { dimensions: ["2026-11-02", "200"], metrics: [4] },
    { dimensions: ["2026-11-02", "404"], metrics: [1] },
  ];
  const data = buildSeries(split, ["count"], { overlay: false, buckets: ["2026-11-01", "2026-11-02", "2026-11-03"] });
  assert.deepEqual(data.labels, ["2026-11-01", "2026-11-02", "2026-11-03"]);
  assert.deepEqual(data.series.map((s) => s.values), [[0, 4, 0], [0, 1, 0]]);
  const outside = buildSeries(split, ["count"], { overlay: false, buckets: ["2026-11-01"] });
  assert.deepEqual(outside.labels, ["2026-11-02"]); // buckets that do not match are not used
});

test("a value between two empty buckets is a dot; joined gauges only when it is the only one", () => {
  const values = [null, 5, null, null, 7, 8, null];
  assert.deepEqual(values.map((_, i) => isolatedAt(values, i, false)), [false, true, false, false, false, false, false]);
  assert.deepEqual(values.map((_, i) => isolatedAt(values, i, true)), [false, false, false, false, false, false, false]);
  const single = [null, null, 4, null];
  assert.deepEqual(single.map((_, i) => isolatedAt(single, i, true)), [false, false, true, false]);
});

test("a sparkline breaks where a gauge has no reading instead of drawing a 0", () => {
  assert.deepEqual(sparkRuns([3, 4, null, 5, null]), [[[0, 3], [1, 4]], [[3, 5]]]);
  assert.deepEqual(sparkRuns([0, 0]), [[[0, 0], [1, 0]]]);
  assert.deepEqual(sparkRuns([null, null]), []);
});
