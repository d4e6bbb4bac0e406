// The shapes of the dashboards API (see docs/dashboards.md) the app reads and writes.

export type Filter = [string, string, string[]];
export type WidgetType = "line" | "area" | "bar" | "pie" | "donut" | "scatter" | "number" | "table";
export const WIDGET_TYPES: WidgetType[] = ["line", "area", "bar", "pie", "donut", "scatter", "number", "table"];

export interface Layout { x: number; y: number; w: number; h: number }

export interface WidgetQuery {
  stream?: string;
  metrics: string[];
  dimensions?: string[];
  filters?: Filter[];
  order_by?: [string, string][];
  limit?: number;
}

export interface WidgetOptions {
  stacked?: boolean;
  overlay?: boolean;
  drilldown?: boolean;
  range?: string | null;
  refresh_seconds?: number | null;
  unit?: string | null;
}

export interface Widget {
  id: string;
  title: string;
  type: WidgetType;
  query: WidgetQuery;
  layout: Layout;
  options?: WidgetOptions;
}

export interface Defaults { range?: Range; interval?: string; tz?: string; compare?: string | null }

export interface Dashboard {
  id: string;
  title: string;
  description?: string;
  stream: string;
  site: string | null;
  defaults?: Defaults;
  widgets: Widget[];
  source?: "builtin" | "file" | "stored";
  readonly?: boolean;
  version?: string;
}

export type DashboardSummary = Omit<Dashboard, "widgets" | "defaults">;

export type Range = string | [string, string];

export interface Row {
  dimensions: (string | number | boolean | null)[];
  metrics: (number | null)[];
  compare?: { metrics: (number | null)[]; change: (number | null)[] };
}

export interface QueryAnswer {
  results: Row[];
  meta?: { total_rows?: number; has_more?: boolean; approximate_metrics?: string[] };
  query?: { metrics?: string[]; dimensions?: string[]; date_range?: string | [string, string]; tz?: string };
  total?: QueryAnswer; // a number widget's total over the whole range (its query without time)
}

export interface WidgetError { error: { code: string; message: string } }
export type WidgetAnswer = QueryAnswer | WidgetError;

export interface DataAnswer {
  widgets: Record<string, WidgetAnswer>;
  range?: { from: string; to: string };
  compare_range?: { from: string; to: string } | null;
}

export interface Session { sites: string[]; csrf_token: string; expires: string }

export interface Share { id: string; token?: string; url?: string; created: string; filters?: Filter[] }

export function isError(answer: WidgetAnswer | undefined): answer is WidgetError {
  return !!answer && typeof (answer as WidgetError).error === "object";
}
