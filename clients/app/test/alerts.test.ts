import assert from "node:assert/strict";
import { test } from "node:test";
import { conditionText, durationSince, sortRules, thresholdRule, type AlertRule } from "../src/alerts";

const status = { since: null, value: null, reference: null, summary: "", evaluated_at: null, error: null };
const rule = (name: string, state: AlertRule["status"]["state"], enabled = true): AlertRule =>
  ({ name, site: "shop", condition: { above: 1 }, severity: "warning", channels: [], enabled, origin: "stored", readonly: false, version: "1.1", status: { ...status, state } }) as AlertRule;

test("firing rules come first, disabled ones last", () => {
  const sorted = sortRules([rule("b", "ok"), rule("z", "firing", false), rule("c", "firing"), rule("a", "pending"), rule("d", "resolved")]);
  assert.deepEqual(sorted.map((r) => r.name), ["c", "a", "d", "b", "z"]);
});

test("durations read naturally", () => {
  const now = new Date("2026-03-02T12:00:00Z");
  assert.equal(durationSince("2026-03-02T11:59:30Z", now), "less than a minute");
  assert.equal(durationSince("2026-03-02T11:48:00Z", now), "12 min");
  assert.equal(durationSince("2026-03-02T09:55:00Z", now), "2 h 5 min");
  assert.equal(durationSince("2026-02-26T12:00:00Z", now), "4 days");
  assert.equal(durationSince(null, now), "");
});

test("conditions in words", () => {
  assert.equal(conditionText({ condition: { above: 1500 }, window: "1h" }), "above 1,500 over 1h");
  assert.equal(conditionText({ condition: { change: { percent: 50, direction: "down", against: "last_week" } }, window: "30m" }), "drop > 50 % vs a week earlier over 30m");
  assert.equal(conditionText({ condition: { no_data: "15m" } }), "no data for 15m");
  assert.equal(conditionText({ condition: { health: "spool_filling" } }), "pipeline health: spool filling");
});

test("a threshold form becomes a rule, or says what is wrong", () => {
  const form = { name: "many-downloads", metric: "count", event: "download", window: "1h", direction: "above" as const, threshold: "500", forDuration: "5m", channels: "ops, chat", description: "" };
  assert.deepEqual(thresholdRule(form), {
    name: "many-downloads", metric: "count", window: "1h", condition: { above: 500 }, for: "5m",
    channels: ["ops", "chat"], filters: [["is", "event", ["download"]]],
  });
  assert.match(String(thresholdRule({ ...form, name: "Many Downloads" })), /name/);
  assert.match(String(thresholdRule({ ...form, threshold: "lots" })), /number/);
});
