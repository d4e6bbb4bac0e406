// The page's controls: time range (presets and a custom range), granularity, compare, time
// zone, and the filters as removable chips.
import { useState } from "preact/hooks";
import { fieldLabel } from "./format";
import { COMPARES, INTERVALS, RANGES, rangeLabel } from "./state";
import type { Filter, Range } from "./types";

const CUSTOM = "__custom";

function addDays(date: string, days: number): string {
  const moment = new Date(date + "T00:00:00Z");
  moment.setUTCDate(moment.getUTCDate() + days);
  return moment.toISOString().slice(0, 10);
}

export function RangePicker({ range, onChange }: { range: Range; onChange: (range: Range) => void }) {
  const custom = Array.isArray(range);
  const [editing, setEditing] = useState(false);
  const today = new Date().toISOString().slice(0, 10);
  // The range's end is exclusive; people pick the last day they want included.
  const [from, setFrom] = useState(custom ? range[0].slice(0, 10) : addDays(today, -6));
  const [to, setTo] = useState(custom ? addDays(range[1].slice(0, 10), -1) : today);
  const valid = from && to && from <= to;
  return (
    <div class="range-picker">
      <label class="control">
        <span class="sr-only">Time range</span>
        <select
          value={custom || editing ? CUSTOM : range}
          onChange={(event) => {
            const value = (event.target as HTMLSelectElement).value;
            if (value === CUSTOM) setEditing(true);
            else {
              setEditing(false);
              onChange(value);
            }
          }}
        >
          {RANGES.map(([value, label]) => (
            <option value={value} key={value}>
              {label}
            </option>
          ))}
          <option value={CUSTOM}>{custom ? rangeLabel([range[0], addDays(range[1].slice(0, 10), -1)]) : "Custom range…"}</option>
        </select>
      </label>
      {(editing || custom) && (
        <form
          class="custom-range"
          onSubmit={(event) => {
            event.preventDefault();
            if (valid) {
              setEditing(false);
              onChange([from, addDays(to, 1)]);
            }
          }}
        >
          <label>
            <span class="sr-only">From</span>
            <input type="date" value={from} max={to} onInput={(event) => setFrom((event.target as HTMLInputElement).value)} />
          </label>
          <span aria-hidden="true">–</span>
          <label>
            <span class="sr-only">To (included)</span>
            <input type="date" value={to} min={from} onInput={(event) => setTo((event.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" class="button small" disabled={!valid}>
            Apply
          </button>
        </form>
      )}
    </div>
  );
}

export function Select<T extends string | null>({ label, value, options, onChange }: { label: string; value: T; options: [T, string][]; onChange: (value: T) => void }) {
  return (
    <label class="control">
      <span class="sr-only">{label}</span>
      <select
        aria-label={label}
        value={value ?? ""}
        onChange={(event) => {
          const raw = (event.target as HTMLSelectElement).value;
          const found = options.find(([v]) => (v ?? "") === raw);
          onChange(found ? found[0] : (raw as T));
        }}
      >
        {options.map(([v, text]) => (
          <option value={v ?? ""} key={v ?? ""}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

export const INTERVAL_OPTIONS: [string, string][] = INTERVALS.map((i) => [i, i === "minute" ? "By minute" : `By ${i}`]);

let zones: [string, string][] | null = null;
export function zoneOptions(current: string): [string, string][] {
  if (!zones) {
    let names: string[] = [];
    try {
      names = (Intl as unknown as { supportedValuesOf(key: string): string[] }).supportedValuesOf("timeZone");
    } catch {
      names = [];
    }
    zones = [["UTC", "UTC"], ...names.filter((n) => n !== "UTC").map((n): [string, string] => [n, n.replace(/_/g, " ")])];
  }
  return zones.some(([z]) => z === current) ? zones : [[current, current], ...zones];
}

export const COMPARE_OPTIONS = COMPARES;

const OPS: Record<string, string> = { is: "is", is_not: "is not", contains: "contains", matches: "matches" };

export function FilterChips({ filters, fixed, onRemove, onClear }: { filters: Filter[]; fixed: Filter[]; onRemove?: (index: number) => void; onClear?: () => void }) {
  if (!filters.length && !fixed.length) return null;
  const chip = ([op, field, values]: Filter) => (
    <>
      <span class="chip-field">{fieldLabel(field)}</span> {OPS[op] ?? op} <strong>{values.map((v) => (v === "" ? "(none)" : v)).join(" or ")}</strong>
    </>
  );
  return (
    <ul class="chips" aria-label="Filters">
      {fixed.map((filter, i) => (
        <li class="chip fixed" key={`fixed-${i}`} title="Fixed by this link">
          {chip(filter)}
        </li>
      ))}
      {filters.map((filter, i) => (
        <li class="chip" key={i}>
          {chip(filter)}
          {onRemove && (
            <button type="button" class="chip-remove" aria-label={`Remove filter ${fieldLabel(filter[1])} ${filter[0]} ${filter[2].join(", ")}`} onClick={() => onRemove(i)}>
              ×
            </button>
          )}
        </li>
      ))}
      {onClear && filters.length > 1 && (
        <li>
          <button type="button" class="link" onClick={onClear}>
            Clear all
          </button>
        </li>
      )}
    </ul>
  );
}
