// The page's state in its URL: site, dashboard, range, interval, time zone, compare, filters.
// Only what differs from the dashboard's defaults needs to be present; pure functions.
import type { Defaults, Filter, Range } from "./types";

export interface UrlState {
  site?: string;
  d?: string;
  range?: Range;
  interval?: string;
  tz?: string;
  compare?: string | null; // null: explicitly none; undefined: the dashboard's default
  filters: Filter[];
  edit?: boolean;
  view?: "alerts"; // the alerts page instead of a dashboard
  rule?: string; // on the alerts page: one rule and its history
}

export const RANGES: [string, string][] = [
  ["30m", "Last 30 minutes"],
  ["today", "Today"],
  ["yesterday", "Yesterday"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
  ["90d", "Last 90 days"],
  ["month", "This month"],
  ["last_month", "Last month"],
  ["year", "This year"],
  ["12mo", "Last 12 months"],
];
export const INTERVALS = ["minute", "hour", "day", "week", "month", "quarter", "year"];
export const COMPARES: [string | null, string][] = [
  [null, "No comparison"],
  ["previous", "Previous period"],
  ["week", "Week over week"],
  ["month", "Month over month"],
  ["year", "Year over year"],
];
const DATE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+)?$/;

function splitPair(part: string): [string, string] {
  const at = part.indexOf("=");
  return at < 0 ? [part, ""] : [part.slice(0, at), part.slice(at + 1)];
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

/** Reads a query string (with or without its leading "?"). Unknown or malformed parts are ignored. */
export function decodeState(search: string): UrlState {
  const state: UrlState = { filters: [] };
  for (const part of search.replace(/^\?/, "").split("&")) {
    if (!part) continue;
    const [rawKey, rawValue] = splitPair(part);
    const key = decode(rawKey);
    if (key === "f") {
      const pieces = rawValue.split(",").map(decode);
      if (pieces.length >= 3 && pieces[0] && pieces[1]) state.filters.push([pieces[0], pieces[1], pieces.slice(2)]);
      continue;
    }
    const value = decode(rawValue);
    if (key === "site" && value) state.site = value;
    else if (key === "d" && value) state.d = value;
    else if (key === "range" && value) {
      const custom = value.split("..");
      state.range = custom.length === 2 && DATE.test(custom[0]) && DATE.test(custom[1]) ? [custom[0], custom[1]] : value;
    } else if (key === "interval" && INTERVALS.includes(value)) state.interval = value;
    else if (key === "tz" && value) state.tz = value;
    else if (key === "compare") state.compare = value === "none" || value === "" ? null : value;
    else if (key === "edit") state.edit = value === "1";
    else if (key === "view" && value === "alerts") state.view = "alerts";
    else if (key === "rule" && value) state.rule = value;
  }
  return state;
}

/** The query string for a state (with its "?", or "" when empty); decodeState reverses it. */
export function encodeState(state: UrlState): string {
  const parts: string[] = [];
  const add = (key: string, value: string) => parts.push(`${key}=${encodeURIComponent(value)}`);
  if (state.site) add("site", state.site);
  if (state.d) add("d", state.d);
  if (state.range !== undefined) add("range", Array.isArray(state.range) ? state.range.join("..") : state.range);
  if (state.interval) add("interval", state.interval);
  if (state.tz) add("tz", state.tz);
  if (state.compare !== undefined) add("compare", state.compare ?? "none");
  for (const [op, field, values] of state.filters) {
    parts.push("f=" + [op, field, ...values].map(encodeURIComponent).join(","));
  }
  if (state.edit) add("edit", "1");
  if (state.view) add("view", state.view);
  if (state.rule) add("rule", state.rule);
  return parts.length ? "?" + parts.join("&") : "";
}

export interface Effective { range: Range; interval: string; tz: string; compare: string | null }

/** The state's values, falling back to the dashboard's defaults, then to the product's. */
export function effective(state: UrlState, defaults: Defaults | undefined): Effective {
  return {
    range: state.range ?? defaults?.range ?? "30d",
    interval: state.interval ?? defaults?.interval ?? "day",
    tz: state.tz ?? defaults?.tz ?? "UTC",
    compare: state.compare !== undefined ? state.compare : defaults?.compare ?? null,
  };
}

/** A sensible granularity for a range (used when the range changes). */
export function intervalFor(range: Range): string {
  if (Array.isArray(range)) {
    const days = (Date.parse(range[1]) - Date.parse(range[0])) / 86_400_000;
    return days <= 2 ? "hour" : days <= 120 ? "day" : days <= 800 ? "month" : "year";
  }
  if (range === "30m") return "minute";
  if (range === "today" || range === "yesterday") return "hour";
  if (range === "year" || range === "12mo") return "month";
  return "day";
}

/** Adds a filter (merging a value into an existing `is` on the same field); drops exact duplicates. */
export function addFilter(filters: Filter[], filter: Filter): Filter[] {
  const [op, field, values] = filter;
  const same = filters.findIndex(([o, f]) => o === op && f === field);
  if (same < 0) return [...filters, filter];
  const merged = Array.from(new Set([...filters[same][2], ...values]));
  return filters.map((existing, i) => (i === same ? [op, field, merged] : existing));
}

export function removeFilter(filters: Filter[], index: number): Filter[] {
  return filters.filter((_, i) => i !== index);
}

export function rangeLabel(range: Range): string {
  if (Array.isArray(range)) return `${range[0]} – ${range[1]}`;
  return RANGES.find(([value]) => value === range)?.[1] ?? range;
}
