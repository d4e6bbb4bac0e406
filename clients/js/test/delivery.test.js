import assert from "node:assert/strict";
import { test } from "node:test";
import { batches, mustRetry, retryDelay } from "../src/delivery.js";

test("stored and refused batches are not sent again; unavailable ones are", () => {
  for (const status of [200, 202, 204, 400, 401, 403, 413, 415, 422]) assert.equal(mustRetry(status), false, status);
  for (const status of [0, 408, 429, 500, 502, 503, 504]) assert.equal(mustRetry(status), true, status);
});

test("the server's Retry-After wins, capped at the maximum", () => {
  assert.equal(retryDelay(1, "7", 1000, 60000, () => 0), 7000);
  assert.equal(retryDelay(3, "0", 1000, 60000, () => 0), 0);
  assert.equal(retryDelay(1, "86400", 1000, 60000, () => 0), 60000);
});

test("without Retry-After the delay doubles up to the maximum, with jitter in the upper half", () => {
  const delays = [1, 2, 3, 4, 10].map((attempt) => [
    retryDelay(attempt, null, 1000, 8000, () => 0),
    retryDelay(attempt, "junk", 1000, 8000, () => 0.999999),
  ]);
  assert.deepEqual(delays, [
    [500, 1000],
    [1000, 2000],
    [2000, 4000],
    [4000, 8000],
    [4000, 8000],
  ]);
});

test("batches keep order and respect both the count and the byte bound", () => {
  const hits = Array.from({ length: 7 }, (_, i) => ({ i, pad: "x".repeat(40) }));
  const byCount = batches(hits, 3, 1e6);
  assert.deepEqual(byCount.map((batch) => batch.length), [3, 3, 1]);
  assert.deepEqual(byCount.flat(), hits);
  const byBytes = batches(hits, 100, 120);
  for (const batch of byBytes) assert.ok(JSON.stringify(batch).length <= 120, JSON.stringify(batch).length);
  assert.deepEqual(byBytes.flat(), hits);
});

test("a hit bigger than the byte bound travels alone rather than being lost", () => {
  const big = { pad: "y".repeat(500) };
  assert.deepEqual(batches([{ a: 1 }, big, { b: 2 }], 10, 100), [[{ a: 1 }], [big], [{ b: 2 }]]);
  assert.deepEqual(batches([], 10, 100), []);
});
