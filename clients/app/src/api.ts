// Calls to Metronome's own API (same origin only): the session cookie rides along, unsafe
// methods carry the CSRF token, errors become ApiError with the server's code and message.
import type { Dashboard, DashboardSummary, DataAnswer, Filter, QueryAnswer, Range, Session, Share } from "./types";
import type { FieldInfo } from "./fields";
import type { AlertDetail, AlertRule } from "./alerts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

let csrfToken = "";
let onExpired: (error: ApiError) => void = () => {};

export function setCsrf(token: string): void {
  csrfToken = token;
}

/** Called when any call answers 401 with a session: the app returns to the sign-in page. */
export function onSessionExpired(handler: (error: ApiError) => void): void {
  onExpired = handler;
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  const error = (body.error ?? {}) as { code?: string; message?: string };
  return new ApiError(response.status, error.code ?? `http_${response.status}`, error.message ?? `${response.status} ${response.statusText}`, body);
}

export interface CallOptions { method?: string; body?: unknown; headers?: Record<string, string>; quietAuth?: boolean; signal?: AbortSignal }

export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "network", "Metronome did not answer. Check that it is running, then try again.");
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && !options.quietAuth) onExpired(error);
    throw error;
  }
  return response;
}

export async function json<T>(path: string, options: CallOptions = {}): Promise<T> {
  const response = await call(path, options);
  return response.status === 204 ? (undefined as T) : ((await response.json()) as T);
}

const q = encodeURIComponent;

export const api = {
  signIn: (key: string) => json<Session>("/api/v1/session", { method: "POST", body: { key }, quietAuth: true }),
  session: () => json<Session>("/api/v1/session", { quietAuth: true }),
  signOut: () => json<void>("/api/v1/session", { method: "DELETE", quietAuth: true }),
  dashboards: (site: string) => json<{ dashboards: DashboardSummary[] }>(`/api/v1/dashboards?site=${q(site)}`),
  dashboard: (id: string, site: string) => json<Dashboard>(`/api/v1/dashboards/${q(id)}?site=${q(site)}`),
  create: (definition: Dashboard) => json<Dashboard>("/api/v1/dashboards", { method: "POST", body: definition }),
  save: (definition: Dashboard, version: string) => {
    const { source: _s, readonly: _r, version: _v, ...body } = definition;
    return json<Dashboard>(`/api/v1/dashboards/${q(definition.id)}`, { method: "PUT", body, headers: { "If-Match": `"${version}"` } });
  },
  remove: (id: string, site: string) => json<void>(`/api/v1/dashboards/${q(id)}?site=${q(site)}`, { method: "DELETE" }),
  data: (base: string, body: DataBody, signal?: AbortSignal) => json<DataAnswer>(`${base}/data`, { method: "POST", body, signal }),
  query: (body: Record<string, unknown>, signal?: AbortSignal) => json<QueryAnswer>("/api/v1/query", { method: "POST", body, signal }),
  shares: (id: string, site: string) => json<{ shares: Share[] }>(`/api/v1/dashboards/${q(id)}/shares?site=${q(site)}`),
  share: (id: string, site: string, filters: Filter[]) => json<Share>(`/api/v1/dashboards/${q(id)}/shares`, { method: "POST", body: { site, filters } }),
  revoke: (shareId: string) => json<void>(`/api/v1/shares/${q(shareId)}`, { method: "DELETE" }),
  fields: (site: string, stream: string) => json<{ fields: FieldInfo[] }>(`/api/v1/fields?site=${q(site)}&stream=${q(stream)}`),
  shared: (token: string) => json<SharedAnswer>(`/api/v1/shared/${q(token)}`, { quietAuth: true }),
  alerts: (site: string) => json<{ alerts: AlertRule[] }>(`/api/v1/alerts?site=${q(site)}`),
  alert: (name: string, site: string, page = 1) => json<AlertDetail>(`/api/v1/alerts/${q(name)}?site=${q(site)}&page=${page}&limit=20`),
  createAlert: (rule: Record<string, unknown>) => json<AlertRule>("/api/v1/alerts", { method: "POST", body: rule }),
  removeAlert: (name: string, site: string) => json<void>(`/api/v1/alerts/${q(name)}?site=${q(site)}`, { method: "DELETE" }),
};

export interface SharedAnswer { dashboard: Dashboard; site: string; filters: Filter[] }

export interface DataBody { site: string; range: Range; interval: string; tz: string; compare: string | null; filters: Filter[] }

/** Downloads a widget's rows as a file (CSV or XLSX) through a temporary object URL. */
export async function download(base: string, widgetId: string, format: "csv" | "xlsx", body: DataBody, filename: string): Promise<void> {
  const response = await call(`${base}/widgets/${q(widgetId)}/data.${format}`, { method: "POST", body, headers: { Accept: "*/*" } });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `${filename}.${format}`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export type ReportFormat = "pdf" | "png" | "xlsx";

/** The query string of a report download: the page's state as the report endpoints read it. */
export function reportQuery(body: DataBody, paper: "a4" | "letter" = "a4"): string {
  const params = new URLSearchParams();
  params.set("site", body.site);
  params.set("range", Array.isArray(body.range) ? body.range.join("..") : body.range);
  params.set("interval", body.interval);
  params.set("tz", body.tz);
  params.set("compare", body.compare ?? "none");
  if (body.filters.length) params.set("filters", JSON.stringify(body.filters));
  params.set("paper", paper);
  return params.toString();
}

/** Downloads the whole dashboard (`base` is its API path) as PDF, PNG or XLSX for this page. */
export async function downloadReport(base: string, format: ReportFormat, body: DataBody, paper: "a4" | "letter", fallbackName: string): Promise<void> {
  const response = await call(`${base}.${format}?${reportQuery(body, paper)}`, { headers: { Accept: "*/*" } });
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "")?.[1];
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = named ?? `${fallbackName}.${format}`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
