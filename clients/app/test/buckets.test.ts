import assert from "node:assert/strict";
import { test } from "node:test";
import { bucketKey, bucketKeys, isoOffset, isoWeek } from "../src/buckets";

test("days, hours and minutes of a range in a zone", () => {
  assert.deepEqual(bucketKeys("2026-11-08T00:00:00+01:00", "2026-11-11T00:00:00+01:00", "day", "Europe/Warsaw"), ["2026-11-08", "2026-11-09", "2026-11-10"]);
  assert.deepEqual(bucketKeys("2026-11-22T10:00:00Z", "2026-11-22T13:00:00Z", "hour", "UTC"), ["2026-11-22T10:00+00:00", "2026-11-22T11:00+00:00", "2026-11-22T12:00+00:00"]);
  assert.equal(bucketKey(Date.parse("2026-12-01T13:05:30Z"), "minute", "UTC"), "2026-12-01T13:05+00:00");
  assert.equal(bucketKey(Date.parse("2026-12-01T13:05:30Z"), "hour", "Asia/Kathmandu"), "2026-12-01T18:00+05:45");
  assert.equal(bucketKeys("2026-11-22T10:00:00Z", "2026-11-22T10:30:00Z", "minute", "UTC")?.length, 30);
});

test("offsets as ISO 8601 writes them", () => {
  assert.equal(isoOffset("GMT"), "+00:00");
  assert.equal(isoOffset("GMT-05:00"), "-05:00");
  assert.equal(isoOffset("GMT+5:45"), "+05:45");
  assert.equal(isoOffset("GMT\u221203:30"), "-03:30");
});

test("the hour New York repeats when clocks go back is two keys, as the API keys them", () => {
  const fall = bucketKeys("2026-11-01T00:00:00-04:00", "2026-11-01T03:00:00-05:00", "hour", "America/New_York");
  assert.deepEqual(fall, ["2026-11-01T00:00-04:00", "2026-11-01T01:00-04:00", "2026-11-01T01:00-05:00", "2026-11-01T02:00-05:00"]);
  const minutes = bucketKeys("2026-11-01T01:58:00-04:00", "2026-11-01T01:02:00-05:00", "minute", "America/New_York");
  assert.deepEqual(minutes, ["2026-11-01T01:58-04:00", "2026-11-01T01:59-04:00", "2026-11-01T01:00-05:00", "2026-11-01T01:01-05:00"]);
});

test("the hour skipped when clocks go forward has no key", () => {
  const spring = bucketKeys("2026-03-08T00:00:00-05:00", "2026-03-08T04:00:00-04:00", "hour", "America/New_York");
  assert.deepEqual(spring, ["2026-03-08T00:00-05:00", "2026-03-08T01:00-05:00", "2026-03-08T03:00-04:00"]);
});

test("a day of daylight saving change has 23 or 25 hours, each once", () => {
  const spring = bucketKeys("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "hour", "Europe/Warsaw");
  assert.equal(spring?.length, 23);
  const autumn = bucketKeys("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "hour", "Europe/Warsaw");
  assert.equal(autumn?.length, 25); // 02:00 twice: two keys, one per offset
  assert.deepEqual(autumn?.slice(2, 4), ["2026-10-25T02:00+02:00", "2026-10-25T02:00+01:00"]);
});

test("weeks, months, quarters and years", () => {
  assert.deepEqual(isoWeek(2026, 1, 1), [2026, 1]);
  assert.deepEqual(isoWeek(2027, 1, 1), [2026, 53]);
  assert.deepEqual(bucketKeys("2026-11-08T00:00:00Z", "2026-11-24T00:00:00Z", "week", "UTC"), ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]);
  assert.deepEqual(bucketKeys("2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z", "quarter", "UTC"), ["2026-Q1", "2026-Q2"]);
  assert.deepEqual(bucketKeys("2025-12-01T00:00:00Z", "2026-02-01T00:00:00Z", "month", "UTC"), ["2025-12", "2026-01"]);
  assert.equal(bucketKeys("2026-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "day", "UTC"), null);
});
