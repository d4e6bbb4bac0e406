// The time buckets of a range, keyed as the query API keys them ("2026-11-22T13:00+01:00",
// "2026-11-22", "2026-W47", "2026-Q4"...), in a time zone: to zero-fill a series split by a second dimension, whose
// answer holds only the buckets that have data. Pure.

const formats = new Map<string, Intl.DateTimeFormat>();

interface Parts { y: number; m: number; d: number; h: number; min: number; offset: string }

function partsIn(moment: number, tz: string): Parts {
  let format = formats.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", timeZoneName: "longOffset" });
    formats.set(tz, format);
  }
  const parts: Record<string, number> = {};
  let offset = "+00:00";
  for (const part of format.formatToParts(moment)) {
    if (part.type === "timeZoneName") offset = isoOffset(part.value);
    else if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return { y: parts.year, m: parts.month, d: parts.day, h: parts.hour, min: parts.minute, offset };
}

/** Intl's "GMT-05:00" / "GMT" as ISO 8601's "-05:00" / "+00:00" (what the API's keys carry). */
export function isoOffset(name: string): string {
  const match = /([+\-\u2212])(\d{1,2})(?::?(\d{2}))?/.exec(name);
  if (!match) return "+00:00";
  const sign = match[1] === "+" ? "+" : "-";
  return `${sign}${match[2].padStart(2, "0")}:${match[3] ?? "00"}`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** ISO 8601 week of a calendar date: [week-based year, week]. */
export function isoWeek(y: number, m: number, d: number): [number, number] {
  const date = new Date(Date.UTC(y, m - 1, d));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of that week
  const yearStart = Date.UTC(date.getUTCFullYear(), 0, 1);
  return [date.getUTCFullYear(), Math.ceil(((date.getTime() - yearStart) / 86_400_000 + 1) / 7)];
}

export function bucketKey(moment: number, interval: string, tz: string): string {
  const { y, m, d, h, min, offset } = partsIn(moment, tz);
  switch (interval) {
    case "minute":
      return `${y}-${pad(m)}-${pad(d)}T${pad(h)}:${pad(min)}${offset}`;
    case "hour":
      return `${y}-${pad(m)}-${pad(d)}T${pad(h)}:00${offset}`;
    case "day":
      return `${y}-${pad(m)}-${pad(d)}`;
    case "week": {
      const [year, week] = isoWeek(y, m, d);
      return `${year}-W${pad(week)}`;
    }
    case "month":
      return `${y}-${pad(m)}`;
    case "quarter":
      return `${y}-Q${Math.floor((m - 1) / 3) + 1}`;
    default:
      return String(y);
  }
}

const STEP: Record<string, number> = { minute: 60_000, hour: 900_000, day: 900_000 };
const MAX_STEPS = 40_000;

/** Every bucket key of [from, to) in order, or null when the range is too long to walk. */
export function bucketKeys(from: string, to: string, interval: string, tz: string): string[] | null {
  const start = Date.parse(from);
  const end = Date.parse(to);
  if (!(end > start)) return null;
  // Steps shorter than any bucket (a quarter of an hour covers every zone's offsets).
  const step = STEP[interval] ?? 3_600_000 * 6;
  if ((end - start) / step > MAX_STEPS) return null;
  const keys: string[] = [];
  for (let moment = start; moment < end; moment += step) {
    const key = bucketKey(moment, interval, tz);
    if (keys[keys.length - 1] !== key) keys.push(key);
  }
  return keys;
}
