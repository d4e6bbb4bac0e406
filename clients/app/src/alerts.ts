// The shapes of /api/v1/alerts (docs/alerts.md) and how the alerts page words them; pure.
import type { Filter } from "./types";

export type AlertStateName = "ok" | "pending" | "firing" | "resolved";

export interface AlertStatus {
  state: AlertStateName;
  since: string | null;
  value: number | null;
  reference: number | null;
  summary: string;
  evaluated_at: string | null;
  error: string | null;
}

export interface AlertRule {
  name: string;
  site: string | null;
  stream?: string;
  metric?: string;
  filters?: Filter[];
  window?: string;
  condition: Record<string, unknown>;
  for?: string;
  repeat?: string;
  cooldown?: string;
  severity: "info" | "warning" | "critical";
  channels: string[];
  description?: string;
  enabled: boolean;
  origin: "file" | "stored" | "health";
  readonly: boolean;
  version: string | null;
  status: AlertStatus;
}

export interface AlertEvent {
  state: "firing" | "repeat" | "resolved";
  at: string;
  value: number | null;
  reference: number | null;
  summary: string;
  notified: boolean;
  severity: string;
}

export interface AlertHistory { events: AlertEvent[]; page: number; limit: number; total: number; has_more: boolean }

export type AlertDetail = AlertRule & { history: AlertHistory };

const STATE_ORDER: Record<AlertStateName, number> = { firing: 0, pending: 1, resolved: 2, ok: 3 };

/** Firing first, then pending, resolved, ok; by name within each (disabled rules last). */
export function sortRules(rules: AlertRule[]): AlertRule[] {
  return [...rules].sort(
    (a, b) =>
      Number(!a.enabled) - Number(!b.enabled) ||
      STATE_ORDER[a.status.state] - STATE_ORDER[b.status.state] ||
      a.name.localeCompare(b.name),
  );
}

export function stateLabel(rule: AlertRule): string {
  if (!rule.enabled) return "Disabled";
  return { ok: "OK", pending: "Pending", firing: "Firing", resolved: "Resolved" }[rule.status.state];
}

/** "3 min", "2 h 5 min", "4 days": how long ago ``since`` was at ``now``. */
export function durationSince(since: string | null, now: Date): string {
  if (!since) return "";
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(since)) / 1000));
  if (seconds < 60) return "less than a minute";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}

function num(value: unknown): string {
  return typeof value === "number" ? value.toLocaleString("en-US", { maximumFractionDigits: 2 }) : String(value);
}

/** The condition in words, as the rule's definition gives it. */
export function conditionText(rule: Pick<AlertRule, "condition" | "window">): string {
  const [kind, raw] = Object.entries(rule.condition)[0] ?? ["", null];
  const over = rule.window ? ` over ${rule.window}` : "";
  const options = (raw ?? {}) as Record<string, unknown>;
  switch (kind) {
    case "above":
    case "below":
      return `${kind} ${num(raw)}${over}`;
    case "change": {
      const way = options.direction === "up" ? "rise" : options.direction === "down" ? "drop" : "change";
      const base = options.against === "last_week" ? "a week earlier" : "the previous period";
      return `${way} > ${num(options.percent)} % vs ${base}${over}`;
    }
    case "anomaly":
      return `unusual against the weekly rhythm (sensitivity ${num(options.sensitivity ?? 3)})`;
    case "no_data":
      return `no data for ${String(raw)}`;
    case "health":
      return `pipeline health: ${String(raw).replace(/_/g, " ")}`;
    default:
      return kind;
  }
}

export interface ThresholdForm {
  name: string;
  metric: string;
  event: string;
  window: string;
  direction: "above" | "below";
  threshold: string;
  forDuration: string;
  channels: string;
  description: string;
}

/** The body of POST /api/v1/alerts for a simple threshold rule; an error message otherwise. */
export function thresholdRule(form: ThresholdForm): Record<string, unknown> | string {
  const name = form.name.trim();
  if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(name)) return "The name is 1 to 64 lowercase letters, digits, _ . or -.";
  const threshold = Number(form.threshold);
  if (form.threshold.trim() === "" || !Number.isFinite(threshold)) return "The threshold is a number.";
  const body: Record<string, unknown> = {
    name,
    metric: form.metric,
    window: form.window,
    condition: { [form.direction]: threshold },
    for: form.forDuration,
    channels: form.channels.split(",").map((c) => c.trim()).filter(Boolean),
  };
  if (form.event.trim()) body.filters = [["is", "event", [form.event.trim()]]];
  if (form.description.trim()) body.description = form.description.trim();
  return body;
}
