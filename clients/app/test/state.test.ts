import assert from "node:assert/strict";
import { test } from "node:test";
import { addFilter, decodeState, effective, encodeState, intervalFor, removeFilter } from "../src/state";

test("a state survives encoding and decoding", () => {
  const state = {
    site: "shop & co",
    d: "web",
    range: ["2026-01-01", "2026-02-01"] as [string, string],
    interval: "week",
    tz: "Europe/Warsaw",
    compare: null,
    filters: [["is", "referrer.host", ["news.example.org", "a,b=c&d"]] as [string, string, string[]]],
    edit: true,
  };
  assert.deepEqual(decodeState(encodeState(state)), state);
});

test("the contract's example URL reads as expected", () => {
  const state = decodeState("?site=default&d=web&range=30d&interval=day&compare=previous&f=is,referrer.host,news.example.org");
  assert.deepEqual(state, { site: "default", d: "web", range: "30d", interval: "day", compare: "previous", filters: [["is", "referrer.host", ["news.example.org"]]] });
});

test("malformed parts are ignored, not fatal", () => {
  const state = decodeState("?interval=fortnight&f=is&f=,x,y&range=%E0%A4%A&zz=1");
  assert.equal(state.interval, undefined);
  assert.deepEqual(state.filters, []);
  assert.equal(state.range, "%E0%A4%A");
});

test("absent values fall back to the dashboard's defaults; an explicit none stays none", () => {
  const defaults = { range: "7d", interval: "hour", tz: "UTC", compare: "previous" };
  assert.deepEqual(effective({ filters: [] }, defaults), { range: "7d", interval: "hour", tz: "UTC", compare: "previous" });
  assert.equal(effective({ filters: [], compare: null }, defaults).compare, null);
  assert.equal(decodeState(encodeState({ filters: [], compare: null })).compare, null);
  assert.equal(decodeState("").compare, undefined);
});

test("filters merge values on the same field and are removable", () => {
  let filters = addFilter([], ["is", "event", ["view"]]);
  filters = addFilter(filters, ["is", "event", ["download"]]);
  filters = addFilter(filters, ["is", "event", ["view"]]);
  filters = addFilter(filters, ["is", "format", ["csv"]]);
  assert.deepEqual(filters, [["is", "event", ["view", "download"]], ["is", "format", ["csv"]]]);
  assert.deepEqual(removeFilter(filters, 0), [["is", "format", ["csv"]]]);
});

test("a range suggests a granularity", () => {
  assert.equal(intervalFor("30m"), "minute");
  assert.equal(intervalFor("today"), "hour");
  assert.equal(intervalFor("30d"), "day");
  assert.equal(intervalFor("12mo"), "month");
  assert.equal(intervalFor(["2026-01-01", "2026-01-02"]), "hour");
});

test("the alerts page and one rule are in the URL", () => {
  const state = decodeState("?site=shop&view=alerts&rule=checkout-drop");
  assert.deepEqual(state, { site: "shop", view: "alerts", rule: "checkout-drop", filters: [] });
  assert.equal(encodeState(state), "?site=shop&view=alerts&rule=checkout-drop");
  assert.equal(decodeState("?view=elsewhere").view, undefined);
});
