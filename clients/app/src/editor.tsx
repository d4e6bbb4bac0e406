// Editing: the widget form, a new dashboard, the version conflict, sharing.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "./api";
import { Dialog } from "./dialog";
import { dimensionFields, metricChoices, unknownMetrics, type FieldInfo } from "./fields";
import { fieldLabel } from "./format";
import { RANGES } from "./state";
import { WIDGET_TYPES, type Dashboard, type Filter, type Share, type Widget, type WidgetType } from "./types";

export const STREAMS = ["hits", "logs", "github", "s3", "ga4", "prometheus", "allezon"];

// Fields the built-in streams store: suggestions until the stream's own list (GET
// /api/v1/fields) arrives, or when it cannot be read. Any field the stream has may be typed.
const STREAM_FIELDS: Record<string, string[]> = {
  hits: ["event", "id", "format", "url.path", "url.host", "referrer.host", "referrer.path", "user_agent.name", "user_agent.os.name", "user_agent.device.type", "bot", "geo.country_name", "geo.country"],
  logs: ["event", "id", "format", "status", "method", "url.path", "referrer.host", "user_agent.name", "bot", "bytes", "duration_ms", "geo.country_name"],
  github: ["repo", "kind", "path", "referrer", "count", "uniques"],
  s3: ["bucket", "key", "operation", "status", "bytes_sent", "geo.country_name"],
  ga4: ["page_path", "source", "medium", "country", "screen_page_views", "active_users"],
  prometheus: ["metric", "job", "instance", "value"],
  allezon: ["action", "origin", "brand_id", "category_id", "device", "price"],
};
const METRIC_SUGGESTIONS = ["count", "visitors", "sessions", "sum:", "avg:", "min:", "max:", "p50:", "p95:", "p99:"];

export function fieldSuggestions(stream: string, dashboard: Dashboard, catalog?: string[]): string[] {
  const used = new Set(catalog ?? STREAM_FIELDS[stream] ?? []);
  for (const widget of dashboard.widgets) {
    if ((widget.query.stream ?? dashboard.stream) !== stream) continue;
    for (const d of widget.query.dimensions ?? []) if (!d.startsWith("time")) used.add(d);
    for (const [, field] of widget.query.filters ?? []) used.add(field);
  }
  return [...used].sort();
}

const list = (text: string) => text.split(",").map((part) => part.trim()).filter(Boolean);

export function slug(text: string): string {
  const base = text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
  return base || "dashboard";
}

export function uniqueId(base: string, taken: string[]): string {
  let id = slug(base);
  for (let n = 2; taken.includes(id); n++) id = `${slug(base).slice(0, 36)}-${n}`;
  return id;
}

/** The fields of a stream of a site, once loaded (null until then, or when they cannot be read). */
function useStreamFields(site: string | undefined, stream: string): FieldInfo[] | null {
  const [fields, setFields] = useState<{ stream: string; fields: FieldInfo[] } | null>(null);
  useEffect(() => {
    if (!site) return;
    let live = true;
    api.fields(site, stream).then(
      (answer) => live && setFields({ stream, fields: answer.fields }),
      () => live && setFields(null),
    );
    return () => {
      live = false;
    };
  }, [site, stream]);
  return fields && fields.stream === stream && fields.fields.length ? fields.fields : null;
}

export function WidgetForm({ widget, dashboard, site, onSave, onClose }: { widget: Widget; dashboard: Dashboard; site?: string; onSave: (widget: Widget) => void; onClose: () => void }) {
  const [title, setTitle] = useState(widget.title);
  const [type, setType] = useState<WidgetType>(widget.type);
  const [stream, setStream] = useState(widget.query.stream ?? dashboard.stream);
  const [metrics, setMetrics] = useState(widget.query.metrics.join(", "));
  const [dimensions, setDimensions] = useState((widget.query.dimensions ?? []).join(", "));
  const [filters, setFilters] = useState<Filter[]>(widget.query.filters ?? []);
  const [limit, setLimit] = useState(widget.query.limit ? String(widget.query.limit) : "");
  const [w, setW] = useState(widget.layout.w);
  const [h, setH] = useState(widget.layout.h);
  const [options, setOptions] = useState({ ...widget.options });
  const catalog = useStreamFields(site, stream);
  const fields = fieldSuggestions(stream, dashboard, catalog ? dimensionFields(catalog) : undefined);
  const metricOptions = catalog ? metricChoices(catalog) : [...METRIC_SUGGESTIONS, ...fields.map((f) => `sum:${f}`)];
  const notNumeric = catalog ? unknownMetrics(list(metrics), catalog) : [];
  const listId = `fields-${widget.id}`;
  const submit = (event: Event) => {
    event.preventDefault();
    const query: Widget["query"] = { metrics: list(metrics) };
    if (stream !== dashboard.stream) query.stream = stream;
    if (list(dimensions).length) query.dimensions = list(dimensions);
    const kept = filters.filter(([, field, values]) => field && values.length);
    if (kept.length) query.filters = kept;
    if (widget.query.order_by) query.order_by = widget.query.order_by;
    if (limit) query.limit = Number(limit);
    const cleaned = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined && v !== null && v !== ""));
    onSave({ ...widget, title: title.trim() || "Untitled", type, query, layout: { ...widget.layout, w, h }, options: cleaned });
  };
  const hint: Record<WidgetType, string> = {
    line: "The first dimension must be time (e.g. time, or time, event for one line per event).",
    area: "The first dimension must be time; stack to show parts of a whole.",
    bar: "Time first for bars over time, or a field for a ranking (e.g. referrer.host).",
    pie: "Exactly one field dimension, e.g. format.",
    donut: "Exactly one field dimension, e.g. user_agent.name.",
    scatter: "Two metrics (x and y) and a field dimension naming each point.",
    number: "One metric; add the dimension time for a sparkline.",
    table: "Any dimensions; rows are sorted by the first metric.",
  };
  return (
    <Dialog title={widget.title ? `Edit “${widget.title}”` : "New widget"} onClose={onClose} wide>
      <form class="form" onSubmit={submit}>
        <datalist id={listId}>
          {["time", ...fields].map((f) => (
            <option value={f} key={f} />
          ))}
        </datalist>
        <datalist id={`${listId}-metrics`}>
          {metricOptions.map((m) => (
            <option value={m} key={m} />
          ))}
        </datalist>
        <div class="form-row">
          <label class="field grow">
            <span>Title</span>
            <input value={title} required maxLength={200} autoFocus onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field">
            <span>Type</span>
            <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value as WidgetType)}>
              {WIDGET_TYPES.map((t) => (
                <option value={t} key={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span>Stream</span>
            <select value={stream} onChange={(e) => setStream((e.target as HTMLSelectElement).value)}>
              {Array.from(new Set([dashboard.stream, ...STREAMS])).map((s) => (
                <option value={s} key={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        </div>
        <p class="hint">{hint[type]}</p>
        <div class="form-row top">
          <label class="field grow">
            <span>Metrics (comma-separated)</span>
            <input value={metrics} required list={`${listId}-metrics`} placeholder="count, visitors" aria-invalid={notNumeric.length ? "true" : undefined} aria-describedby={notNumeric.length ? `${listId}-metrics-note` : undefined} onInput={(e) => setMetrics((e.target as HTMLInputElement).value)} />
            {notNumeric.length > 0 && (
              <small class="field-note" id={`${listId}-metrics-note`}>
                Not a number in {stream}: {notNumeric.join(", ")}
              </small>
            )}
          </label>
          <label class="field grow">
            <span>Dimensions (comma-separated)</span>
            <input value={dimensions} list={listId} placeholder="time" onInput={(e) => setDimensions((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field narrow">
            <span>Limit</span>
            <input type="number" min={1} max={10000} value={limit} onInput={(e) => setLimit((e.target as HTMLInputElement).value)} />
          </label>
        </div>
        <fieldset class="fieldset">
          <legend>Filters of this widget</legend>
          {filters.map(([op, field, values], i) => (
            <div class="form-row filter-row" key={i}>
              <select aria-label="Operator" value={op} onChange={(e) => setFilters(filters.map((f, j) => (j === i ? [(e.target as HTMLSelectElement).value, f[1], f[2]] : f)))}>
                {["is", "is_not", "contains", "matches"].map((o) => (
                  <option value={o} key={o}>
                    {o.replace("_", " ")}
                  </option>
                ))}
              </select>
              <input aria-label="Field" list={listId} value={field} placeholder="field" onInput={(e) => setFilters(filters.map((f, j) => (j === i ? [f[0], (e.target as HTMLInputElement).value, f[2]] : f)))} />
              <input aria-label="Values" value={values.join(", ")} placeholder="values, comma-separated" onInput={(e) => setFilters(filters.map((f, j) => (j === i ? [f[0], f[1], list((e.target as HTMLInputElement).value)] : f)))} />
              <button type="button" class="icon-button" aria-label="Remove this filter" onClick={() => setFilters(filters.filter((_, j) => j !== i))}>
                ×
              </button>
            </div>
          ))}
          <button type="button" class="button ghost small" onClick={() => setFilters([...filters, ["is", "", []]])}>
            + Add a filter
          </button>
        </fieldset>
        <div class="form-row">
          <label class="field narrow">
            <span>Width (of 12)</span>
            <input type="number" min={1} max={12} value={w} onInput={(e) => setW(Number((e.target as HTMLInputElement).value) || 1)} />
          </label>
          <label class="field narrow">
            <span>Height (rows)</span>
            <input type="number" min={1} max={12} value={h} onInput={(e) => setH(Number((e.target as HTMLInputElement).value) || 1)} />
          </label>
          <label class="field">
            <span>Unit</span>
            <select value={options.unit ?? ""} onChange={(e) => setOptions({ ...options, unit: (e.target as HTMLSelectElement).value || null })}>
              <option value="">none</option>
              <option value="ms">milliseconds</option>
              <option value="bytes">bytes</option>
              <option value="%">percent</option>
            </select>
          </label>
          <label class="field">
            <span>Own range</span>
            <select value={options.range ?? ""} onChange={(e) => setOptions({ ...options, range: (e.target as HTMLSelectElement).value || null })}>
              <option value="">the page's</option>
              {RANGES.map(([value, text]) => (
                <option value={value} key={value}>
                  {text}
                </option>
              ))}
            </select>
          </label>
          <label class="field narrow">
            <span>Refresh (s)</span>
            <input type="number" min={5} max={3600} value={options.refresh_seconds ?? ""} onInput={(e) => setOptions({ ...options, refresh_seconds: Number((e.target as HTMLInputElement).value) || null })} />
          </label>
        </div>
        <div class="form-row checks">
          <label class="check">
            <input type="checkbox" checked={!!options.stacked} onChange={(e) => setOptions({ ...options, stacked: (e.target as HTMLInputElement).checked })} /> Stacked
          </label>
          <label class="check">
            <input type="checkbox" checked={options.overlay !== false} onChange={(e) => setOptions({ ...options, overlay: (e.target as HTMLInputElement).checked })} /> Draw the compare period
          </label>
          <label class="check">
            <input type="checkbox" checked={options.drilldown !== false} onChange={(e) => setOptions({ ...options, drilldown: (e.target as HTMLInputElement).checked })} /> Click to filter the page
          </label>
        </div>
        <footer class="dialog-foot">
          <button type="button" class="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button primary">
            Apply
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

export function NewDashboard({ site, taken, onCreated, onClose }: { site: string; taken: string[]; onCreated: (d: Dashboard) => void; onClose: () => void }) {
  const [title, setTitle] = useState("");
  const [stream, setStream] = useState("hits");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError("");
    const definition: Dashboard = {
      id: uniqueId(title, taken),
      title: title.trim(),
      description: "",
      stream,
      site,
      defaults: { range: "30d", interval: "day", tz: "UTC", compare: "previous" },
      widgets: [{ id: "total", title: "Total", type: "number", query: { metrics: ["count"], dimensions: ["time"] }, layout: { x: 0, y: 0, w: 3, h: 2 }, options: {} }],
    };
    try {
      onCreated(await api.create(definition));
    } catch (e) {
      setError((e as ApiError).message);
      setBusy(false);
    }
  };
  return (
    <Dialog title="New dashboard" onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label class="field">
          <span>Title</span>
          <input value={title} required maxLength={200} autoFocus onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          <span>Stream (the data its widgets read by default)</span>
          <select value={stream} onChange={(e) => setStream((e.target as HTMLSelectElement).value)}>
            {STREAMS.map((s) => (
              <option value={s} key={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <footer class="dialog-foot">
          <button type="button" class="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy || !title.trim()}>
            Create
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

export function ConflictDialog({ onReload, onOverwrite, onClose }: { onReload: () => void; onOverwrite: () => void; onClose: () => void }) {
  return (
    <Dialog title="Someone else saved this dashboard" onClose={onClose}>
      <div class="form">
        <p>Someone else saved this dashboard while you were editing it. Reload to see their version (your changes are lost), or overwrite it with yours (theirs are lost).</p>
        <footer class="dialog-foot">
          <button type="button" class="button ghost" onClick={onReload}>
            Reload their version
          </button>
          <button type="button" class="button danger" onClick={onOverwrite}>
            Overwrite with mine
          </button>
        </footer>
      </div>
    </Dialog>
  );
}

export function ShareDialog({ dashboard, site, filters, onClose }: { dashboard: Dashboard; site: string; filters: Filter[]; onClose: () => void }) {
  const [shares, setShares] = useState<Share[] | null>(null);
  const [created, setCreated] = useState<Share | null>(null);
  const [fixFilters, setFixFilters] = useState(filters.length > 0);
  const [error, setError] = useState("");
  const [copied, setCopied] = useState(false);
  const load = () =>
    api
      .shares(dashboard.id, site)
      .then((answer) => setShares(answer.shares))
      .catch((e: ApiError) => setError(e.message));
  useEffect(() => {
    load();
  }, []);
  const link = created ? new URL(created.url ?? `/share/${created.token}`, window.location.origin).href : "";
  return (
    <Dialog title={`Share “${dashboard.title}”`} onClose={onClose}>
      <div class="form">
        <p class="hint">A public link shows this dashboard read-only to anyone who has it, without a key. Revoke it to stop it working.</p>
        {created ? (
          <div class="share-created">
            <label class="field">
              <span>The link (shown once: copy it now)</span>
              <input readOnly value={link} onFocus={(e) => (e.target as HTMLInputElement).select()} data-testid="share-url" />
            </label>
            <button
              type="button"
              class="button primary"
              onClick={async () => {
                try {
                  await navigator.clipboard.writeText(link);
                  setCopied(true);
                } catch {
                  setError("Copying is not allowed here: select the link and copy it.");
                }
              }}
            >
              {copied ? "Copied" : "Copy"}
            </button>
          </div>
        ) : (
          <div class="form-row">
            {filters.length > 0 && (
              <label class="check">
                <input type="checkbox" checked={fixFilters} onChange={(e) => setFixFilters((e.target as HTMLInputElement).checked)} /> Fix the current filters ({filters.map((f) => fieldLabel(f[1])).join(", ")})
              </label>
            )}
            <button
              type="button"
              class="button primary"
              onClick={async () => {
                setError("");
                try {
                  setCreated(await api.share(dashboard.id, site, fixFilters ? filters : []));
                  load();
                } catch (e) {
                  setError((e as ApiError).message);
                }
              }}
            >
              Create a public link
            </button>
          </div>
        )}
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <h3 class="subhead">Links</h3>
        {shares === null ? (
          <p class="hint">Loading…</p>
        ) : shares.length === 0 ? (
          <p class="hint">No public links yet.</p>
        ) : (
          <ul class="share-list">
            {shares.map((share) => (
              <li key={share.id}>
                <span>
                  Created {new Date(share.created).toLocaleString()}
                  {share.filters?.length ? ` · filtered by ${share.filters.map((f) => `${fieldLabel(f[1])} ${f[2].join(", ")}`).join("; ")}` : ""}
                </span>
                <button
                  type="button"
                  class="button danger small"
                  onClick={async () => {
                    try {
                      await api.revoke(share.id);
                      load();
                    } catch (e) {
                      setError((e as ApiError).message);
                    }
                  }}
                >
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </Dialog>
  );
}
