// From a query answer to what a chart draws: labels, one series per metric (or per value of a
// second dimension), and the compare period's values aligned on the same buckets. Pure.
import type { Row } from "./types";

export interface Series {
  label: string;
  values: (number | null)[];
  compare: boolean; // the compare period, drawn dashed
  key: string; // the dimension value (for drill-down) or the metric name
}

export interface ChartData {
  labels: string[];
  keys: unknown[]; // the raw first-dimension value of each label
  series: Series[];
}

function key(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

/**
 * One point per row of the first dimension; one series per metric, or, with a second
 * dimension, one series per value of it (the first metric, the `maxSeries` largest values and
 * "Other"). `overlay` adds each series' compare values, matched to the same label, or null
 * where the compare period has no matching bucket.
 */
export function buildSeries(
  rows: Row[],
  metrics: string[],
  options: { overlay: boolean; maxSeries?: number; metricLabel?: (metric: string) => string; buckets?: string[] | null },
): ChartData {
  const labels: string[] = [];
  const keys: unknown[] = [];
  const index = new Map<string, number>();
  const split = rows.some((row) => row.dimensions.length > 1);
  // A split time series holds only the buckets with data: every bucket of the range is drawn.
  const buckets = split && options.buckets && rows.every((row) => options.buckets?.includes(key(row.dimensions[0]))) ? options.buckets : [];
  for (const bucket of buckets) {
    index.set(bucket, labels.length);
    labels.push(bucket);
    keys.push(bucket);
  }
  for (const row of rows) {
    const k = key(row.dimensions[0]);
    if (!index.has(k)) {
      index.set(k, labels.length);
      labels.push(k);
      keys.push(row.dimensions[0]);
    }
  }
  const name = options.metricLabel ?? ((m: string) => m);
  if (!split) {
    const series: Series[] = [];
    metrics.forEach((metric, m) => {
      const values: (number | null)[] = labels.map(() => null);
      const before: (number | null)[] = labels.map(() => null);
      let hasCompare = false;
      for (const row of rows) {
        const at = index.get(key(row.dimensions[0])) as number;
        values[at] = row.metrics[m] ?? null;
        if (row.compare) {
          hasCompare = true;
          before[at] = row.compare.metrics[m] ?? null;
        }
      }
      series.push({ label: name(metric), values, compare: false, key: metric });
      if (options.overlay && hasCompare) series.push({ label: `${name(metric)} (compare)`, values: before, compare: true, key: metric });
    });
    return { labels, keys, series };
  }
  // Split by the second dimension: the largest values by total of the first metric.
  const totals = new Map<string, number>();
  for (const row of rows) {
    const k = key(row.dimensions[1]);
    totals.set(k, (totals.get(k) ?? 0) + (row.metrics[0] ?? 0));
  }
  const maxSeries = options.maxSeries ?? 8;
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const kept = new Set(ranked.slice(0, maxSeries));
  const names = ranked.slice(0, maxSeries);
  const other = ranked.length > maxSeries;
  const byName = new Map<string, (number | null)[]>();
  for (const n of [...names, ...(other ? ["\u0000other"] : [])]) byName.set(n, labels.map(() => 0));
  for (const row of rows) {
    const n = kept.has(key(row.dimensions[1])) ? key(row.dimensions[1]) : "\u0000other";
    const values = byName.get(n) as (number | null)[];
    const at = index.get(key(row.dimensions[0])) as number;
    values[at] = (values[at] ?? 0) + (row.metrics[0] ?? 0);
  }
  const series: Series[] = [...byName.entries()].map(([n, values]) => ({
    label: n === "\u0000other" ? "Other" : n === "" ? "(none)" : n,
    values,
    compare: false,
    key: n,
  }));
  return { labels, keys, series };
}

/** The totals of a number widget: the answer's `totals` row, a row without dimensions, or the
 * sum of a time series (for additive metrics), with the change against the compare period. */
export function totalOf(rows: Row[], totals: Row | undefined, metricIndex: number, additive: boolean): { value: number | null; change: number | null; previous: number | null } {
  const row = totals ?? (rows.length === 1 && rows[0].dimensions.length === 0 ? rows[0] : undefined);
  if (row) {
    return { value: row.metrics[metricIndex] ?? null, change: row.compare?.change[metricIndex] ?? null, previous: row.compare?.metrics[metricIndex] ?? null };
  }
  if (!rows.length) return { value: 0, change: null, previous: null };
  if (!additive) {
    const last = rows[rows.length - 1];
    return { value: last.metrics[metricIndex] ?? null, change: last.compare?.change[metricIndex] ?? null, previous: last.compare?.metrics[metricIndex] ?? null };
  }
  let value = 0;
  let previous = 0;
  let hasCompare = false;
  for (const row of rows) {
    value += row.metrics[metricIndex] ?? 0;
    if (row.compare) {
      hasCompare = true;
      previous += row.compare.metrics[metricIndex] ?? 0;
    }
  }
  const change = hasCompare && previous !== 0 ? Math.round(((value - previous) / Math.abs(previous)) * 1000) / 10 : null;
  return { value, change, previous: hasCompare ? previous : null };
}

/** Metrics whose per-bucket values add up to the period's total. */
export function isAdditive(metric: string): boolean {
  return metric === "count" || metric.startsWith("sum:");
}

/** Whether the value at i has no neighbour to join (nulls on both sides, gaps not spanned). */
export function isolatedAt(values: (number | null)[], i: number, spanGaps: boolean): boolean {
  if (values[i] === null || values[i] === undefined) return false;
  if (spanGaps) return values.filter((v) => v !== null && v !== undefined).length === 1;
  const before = i > 0 ? values[i - 1] : null;
  const after = i < values.length - 1 ? values[i + 1] : null;
  return (before === null || before === undefined) && (after === null || after === undefined);
}

/** The runs of consecutive readings of a sparkline, as [index, value] points: a bucket without
 * a reading (null: a gauge not sampled yet, as in the current hour) ends a run, so the line
 * shows a gap there instead of dropping to 0. */
export function sparkRuns(values: (number | null)[]): [number, number][][] {
  const runs: [number, number][][] = [];
  let run: [number, number][] = [];
  values.forEach((value, i) => {
    if (value === null || value === undefined) {
      if (run.length) runs.push(run);
      run = [];
    } else {
      run.push([i, value]);
    }
  });
  if (run.length) runs.push(run);
  return runs;
}
