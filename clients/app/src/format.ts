// Numbers and labels as people read them: thousands separators, units, short forms. Pure.

const full = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const oneDecimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

/** 1234567 -> "1,234,567"; 0.5 -> "0.5"; null -> "–". */
export function formatNumber(value: number | null | undefined, unit?: string | null): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (unit === "bytes") return formatBytes(value);
  if (unit === "ms") return formatDuration(value);
  const text = full.format(value);
  return unit === "%" ? `${text}%` : unit ? `${text} ${unit}` : text;
}

/** A short form for tight places (axes, big numbers): 1,234 -> "1.2k", 3,400,000 -> "3.4M". */
export function formatCompact(value: number | null | undefined, unit?: string | null): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (unit === "bytes") return formatBytes(value);
  if (unit === "ms") return formatDuration(value);
  const abs = Math.abs(value);
  let text: string;
  if (abs >= 1e9) text = oneDecimal.format(value / 1e9) + "B";
  else if (abs >= 1e6) text = oneDecimal.format(value / 1e6) + "M";
  else if (abs >= 1e4) text = oneDecimal.format(value / 1e3) + "k";
  else text = full.format(value);
  return unit === "%" ? `${text}%` : unit ? `${text} ${unit}` : text;
}

const BYTE_UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

export function formatBytes(value: number): string {
  let scaled = Math.abs(value);
  let unit = 0;
  while (scaled >= 1000 && unit < BYTE_UNITS.length - 1) {
    scaled /= 1000;
    unit += 1;
  }
  const sign = value < 0 ? "-" : "";
  return `${sign}${unit === 0 ? full.format(scaled) : oneDecimal.format(scaled)} ${BYTE_UNITS[unit]}`;
}

export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${full.format(Math.round(ms * 10) / 10)} ms`;
  if (abs < 60_000) return `${oneDecimal.format(ms / 1000)} s`;
  if (abs < 3_600_000) return `${oneDecimal.format(ms / 60_000)} min`;
  return `${oneDecimal.format(ms / 3_600_000)} h`;
}

/** A change in percent as "+12.5%", "−3%", or "" when there is none to show. */
export function formatChange(change: number | null | undefined): string {
  if (change === null || change === undefined || Number.isNaN(change)) return "";
  const rounded = Math.abs(change) >= 100 ? Math.round(change) : Math.round(change * 10) / 10;
  if (rounded === 0) return "0%";
  return `${rounded > 0 ? "+" : "−"}${oneDecimal.format(Math.abs(rounded))}%`;
}

/** The unit a metric's values carry when the widget names none: counts have none. */
export function metricUnit(metric: string, unit?: string | null): string | null {
  if (unit) return unit;
  const field = metric.split(":")[1] ?? "";
  if (/(_ms|\.ms|duration_ms|latency_ms|load_ms)$/.test(field)) return "ms";
  if (/bytes|size$/.test(field)) return "bytes";
  return null;
}

const METRIC_NAMES: Record<string, string> = { count: "Count", visitors: "Visitors", sessions: "Sessions" };
const AGGREGATES: Record<string, string> = { sum: "Sum", avg: "Average", min: "Min", max: "Max", p50: "Median", p95: "p95", p99: "p99" };

/** "visitors" -> "Visitors", "p95:load_ms" -> "p95 load_ms". */
export function metricLabel(metric: string): string {
  if (METRIC_NAMES[metric]) return METRIC_NAMES[metric];
  const [aggregate, field] = metric.split(":");
  if (!field) return metric;
  if (aggregate === "sum") return fieldLabel(field);
  return `${AGGREGATES[aggregate] ?? aggregate} ${fieldLabel(field).toLowerCase()}`;
}

const FIELD_NAMES: Record<string, string> = {
  "http.bytes": "Bytes",
  "http.status": "Status",
  "http.method": "Method",
  "push.commits": "Commits",
  "url.path": "Page",
  "referrer.host": "Referrer",
  "referrer.path": "Referrer path",
  "user_agent.name": "Browser",
  "user_agent.os.name": "Operating system",
  "user_agent.os": "Operating system",
  "user_agent.device.type": "Device",
  "geo.country_name": "Country",
  "geo.country": "Country",
  event: "Event",
  format: "Format",
  bot: "Bot",
  id: "Item",
};

export function fieldLabel(field: string): string {
  if (FIELD_NAMES[field]) return FIELD_NAMES[field];
  const last = field.split(".").pop() ?? field;
  const words = last.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A dimension value for display: empty ones are "(none)", booleans read as words. */
export function valueLabel(value: unknown, field?: string): string {
  if (value === null || value === undefined || value === "") return field === "referrer.host" ? "(direct)" : "(none)";
  if (field === "bot" && (value === true || value === "true")) return "Bots";
  if (field === "bot" && (value === false || value === "false")) return "Humans";
  if (value === true) return "yes";
  if (value === false) return "no";
  return String(value);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A time bucket key as the query API names it ("2026-11-22T13:00+01:00", "2026-W47", "2026-Q4"...), made short. */
export function bucketLabel(key: string, interval: string): string {
  const day = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2}))?)?/.exec(key);
  if (day) {
    const [, , month, date, hour, minute] = day;
    const monthName = MONTHS[Number(month) - 1] ?? month;
    if (hour !== undefined && (interval === "minute" || interval === "hour")) {
      // Midnight names its day, so a series over several days reads on its axis.
      if (hour === "00" && (minute ?? "00") === "00") return `${monthName} ${Number(date)}`;
      return `${hour}:${minute ?? "00"}`;
    }
    return `${monthName} ${Number(date)}`;
  }
  const month = /^(\d{4})-(\d{2})$/.exec(key);
  if (month) return `${MONTHS[Number(month[2]) - 1] ?? month[2]} ${month[1]}`;
  return key;
}

/** The labels of a run of bucket keys: a local time seen a second time (the hour repeated when
 * clocks go back) carries its UTC offset, "01:00 (−05:00)", so the two read apart. */
export function bucketLabels(keys: string[], interval: string): string[] {
  const seen = new Set<string>();
  return keys.map((key) => {
    const label = bucketLabel(key, interval);
    const parts = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})([+-]\d{2}:\d{2}|Z)$/.exec(key);
    if (!parts) return label;
    const repeated = seen.has(parts[1]);
    seen.add(parts[1]);
    return repeated ? `${label} (${parts[2].replace("-", "\u2212")})` : label;
  });
}

const COMPARE_NAMES: Record<string, string> = { previous: "previous period", week: "a week earlier", month: "a month earlier", year: "a year earlier" };

/** How a compare series is named in legends: "Views (previous period)". */
export function compareLabel(mode: string | null | undefined): string {
  return COMPARE_NAMES[mode ?? ""] ?? "compare";
}

/** What a number card says against the compare period: a change with its direction, "new" when
 * the period before had none, or a quiet "no data" note when there is nothing to compare with. */
export function changeNote(value: number | null, previous: number | null, change: number | null): { text: string; direction: "up" | "down" | "flat" | "none" } {
  if (value === null || previous === null || Number.isNaN(previous)) return { text: "no data to compare", direction: "none" };
  let pct = change;
  if (pct === null && previous !== 0) pct = Math.round(((value - previous) / Math.abs(previous)) * 1000) / 10;
  if (pct === null) return value === 0 ? { text: "0%", direction: "flat" } : { text: "new", direction: value > 0 ? "up" : "down" };
  const text = formatChange(pct);
  return { text, direction: text === "0%" ? "flat" : pct > 0 ? "up" : "down" };
}

/** An instant as a reader of that zone says it: "7 Dec 2026, 04:10". */
export function instantLabel(iso: string, tz: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat("en-GB", { timeZone: tz, day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(date);
  } catch {
    return date.toISOString();
  }
}

function dayLabel(date: Date, tz: string): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone: tz, day: "numeric", month: "short", year: "numeric" }).format(date);
}

function atMidnight(date: Date, tz: string): boolean {
  const time = new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(date);
  return time === "00:00:00";
}

/** The span between two instants in a zone: whole days as "8 Nov 2026 – 7 Dec 2026" (the last
 * day included), anything else as the instants, the end excluded. */
export function spanLabel(from: string, to: string, tz: string): string {
  const start = new Date(from);
  const end = new Date(to);
  try {
    if (atMidnight(start, tz) && atMidnight(end, tz)) return `${dayLabel(start, tz)} – ${dayLabel(new Date(end.getTime() - 1), tz)}`;
  } catch {
    /* an unknown zone: the instants below */
  }
  return `${instantLabel(from, tz)} – ${instantLabel(to, tz)}`;
}
