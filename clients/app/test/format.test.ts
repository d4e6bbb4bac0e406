import assert from "node:assert/strict";
import { test } from "node:test";
import { bucketLabel, bucketLabels, changeNote, formatChange, formatCompact, formatNumber, instantLabel, metricLabel, metricUnit, spanLabel, valueLabel } from "../src/format";

test("numbers get thousands separators and units", () => {
  assert.equal(formatNumber(1234567), "1,234,567");
  assert.equal(formatNumber(0.456), "0.46");
  assert.equal(formatNumber(null), "–");
  assert.equal(formatNumber(1536, "bytes"), "1.5 KB");
  assert.equal(formatNumber(2_500_000_000, "bytes"), "2.5 GB");
  assert.equal(formatNumber(250, "ms"), "250 ms");
  assert.equal(formatNumber(1500, "ms"), "1.5 s");
  assert.equal(formatNumber(12.5, "%"), "12.5%");
});

test("compact numbers for axes", () => {
  assert.equal(formatCompact(999), "999");
  assert.equal(formatCompact(9999), "9,999");
  assert.equal(formatCompact(12_345), "12.3k");
  assert.equal(formatCompact(3_400_000), "3.4M");
  assert.equal(formatCompact(1_234_567), "1.2M");
  assert.equal(formatCompact(12_345_678), "12.3M");
  assert.equal(formatNumber(12_345_678), "12,345,678");
  assert.equal(formatCompact(-2_000_000_000), "-2B");
});

test("changes carry a sign", () => {
  assert.equal(formatChange(12.345), "+12.3%");
  assert.equal(formatChange(-3), "−3%");
  assert.equal(formatChange(0), "0%");
  assert.equal(formatChange(null), "");
  assert.equal(formatChange(1234.5), "+1,235%");
});

test("metric names and units", () => {
  assert.equal(metricLabel("visitors"), "Visitors");
  assert.equal(metricLabel("p95:load_ms"), "p95 load ms");
  assert.equal(metricLabel("sum:http.bytes"), "Bytes");
  assert.equal(metricLabel("avg:total_time_ms"), "Average total time ms");
  assert.equal(metricUnit("p95:load_ms"), "ms");
  assert.equal(metricUnit("sum:bytes"), "bytes");
  assert.equal(metricUnit("sum:bytes_sent"), "bytes");
  assert.equal(metricUnit("sum:http.bytes"), "bytes");
  assert.equal(metricUnit("count"), null);
  assert.equal(metricUnit("count", "%"), "%");
});

test("bucket keys read short", () => {
  assert.equal(bucketLabel("2026-11-22", "day"), "Nov 22");
  assert.equal(bucketLabel("2026-11-22T13:00+01:00", "hour"), "13:00");
  assert.equal(bucketLabel("2026-11-22T00:00-05:00", "hour"), "Nov 22");
  assert.equal(bucketLabel("2026-11-22T13:05+00:00", "minute"), "13:05");
  assert.equal(bucketLabel("2026-11", "month"), "Nov 2026");
  assert.equal(bucketLabel("2026-W47", "week"), "2026-W47");
});

test("the hour repeated when clocks go back reads apart", () => {
  const keys = ["2026-11-01T00:00-04:00", "2026-11-01T01:00-04:00", "2026-11-01T01:00-05:00", "2026-11-01T02:00-05:00"];
  assert.deepEqual(bucketLabels(keys, "hour"), ["Nov 1", "01:00", "01:00 (\u221205:00)", "02:00"]);
  assert.deepEqual(bucketLabels(["2026-11-22", "2026-11-23"], "day"), ["Nov 22", "Nov 23"]);
});

test("a number card's change: a percentage, new, or nothing to compare", () => {
  assert.deepEqual(changeNote(120, 100, 20), { text: "+20%", direction: "up" });
  assert.deepEqual(changeNote(80, 100, null), { text: "−20%", direction: "down" });
  assert.deepEqual(changeNote(6, 0, null), { text: "new", direction: "up" });
  assert.deepEqual(changeNote(0, 0, null), { text: "0%", direction: "flat" });
  assert.deepEqual(changeNote(6, null, null), { text: "no data to compare", direction: "none" });
});

test("an empty referrer is a direct visit", () => {
  assert.equal(valueLabel("", "referrer.host"), "(direct)");
  assert.equal(valueLabel(null, "format"), "(none)");
});

test("a report's span reads as whole days when it is whole days in its zone", () => {
  assert.equal(spanLabel("2026-11-07T23:00:00+00:00", "2026-12-07T23:00:00+00:00", "Europe/Warsaw"), "8 Nov 2026 – 7 Dec 2026");
  assert.equal(spanLabel("2026-12-07T04:00:00+00:00", "2026-12-07T04:30:00+00:00", "UTC"), "7 Dec 2026, 04:00 – 7 Dec 2026, 04:30");
  assert.equal(instantLabel("2026-03-29T01:30:00Z", "Europe/Warsaw"), "29 Mar 2026, 03:30");
});
