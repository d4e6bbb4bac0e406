// What the widget editor offers: the stream's fields (GET /api/v1/fields) as dimensions and,
// for numeric fields only, as metrics (sum:, avg:, p95:...). Pure.

export interface FieldInfo { name: string; kind: string }

// Bookkeeping every document carries: not worth a dimension.
const HIDDEN = new Set(["@timestamp", "@version", "received_at", "site", "type", "hit_id", "visitor", "client_ip"]);
const AGGREGATES = ["sum", "avg", "min", "max", "p50", "p95", "p99"];
export const BASE_METRICS = ["count", "visitors", "sessions"];

/** Fields to break down by: keywords, booleans and numbers (not free text, not dates). */
export function dimensionFields(fields: FieldInfo[]): string[] {
  return fields.filter((f) => !HIDDEN.has(f.name) && (f.kind === "keyword" || f.kind === "boolean" || f.kind === "number")).map((f) => f.name);
}

/** Metrics: count, visitors, sessions, then every aggregate of every numeric field. */
export function metricChoices(fields: FieldInfo[]): string[] {
  const numbers = fields.filter((f) => f.kind === "number" && !HIDDEN.has(f.name)).map((f) => f.name);
  return [...BASE_METRICS, ...numbers.flatMap((name) => AGGREGATES.map((a) => `${a}:${name}`))];
}

/** The metric names of a comma-separated list that need a numeric field the stream lacks. */
export function unknownMetrics(metrics: string[], fields: FieldInfo[]): string[] {
  const numbers = new Set(fields.filter((f) => f.kind === "number").map((f) => f.name));
  return metrics.filter((m) => {
    const [aggregate, field] = m.split(":");
    return field !== undefined && AGGREGATES.includes(aggregate) && !numbers.has(field);
  });
}
