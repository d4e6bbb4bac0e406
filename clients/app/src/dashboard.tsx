// A dashboard page: its controls, filters and the grid of widgets; editing for stored ones.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError, download, downloadReport, type DataBody, type ReportFormat } from "./api";
import { COMPARE_OPTIONS, FilterChips, INTERVAL_OPTIONS, RangePicker, Select, zoneOptions } from "./controls";
import { ConflictDialog, ShareDialog, uniqueId, WidgetForm } from "./editor";
import { insertAfter, moveItem, readingOrder, removeItem, resizeItem, resolveLayout } from "./grid";
import { navigate } from "./router";
import { addFilter, effective, intervalFor, rangeLabel, removeFilter, type UrlState } from "./state";
import type { Theme } from "./theme";
import { isError, type Dashboard, type DataAnswer, type Filter, type Widget, type WidgetAnswer } from "./types";
import { WidgetBody } from "./widget";

export interface PageProps {
  dashboard: Dashboard;
  state: UrlState;
  site: string;
  theme: Theme;
  shared?: { token: string; filters: Filter[] };
  onReload: () => void;
  onSaved: (dashboard: Dashboard) => void;
  onDuplicate?: () => void;
  onDelete?: () => void;
}

const isTime = (d: string) => d === "time" || d.startsWith("time:");

/** The POST /api/v1/query body that answers one widget on this page (previews and refreshes). */
export function widgetQuery(widget: Widget, dashboard: Dashboard, body: DataBody): Record<string, unknown> {
  const range = widget.options?.range ?? body.range;
  const interval = widget.options?.range ? intervalFor(range) : body.interval;
  const query: Record<string, unknown> = {
    site: body.site,
    stream: widget.query.stream ?? dashboard.stream,
    metrics: widget.query.metrics,
    dimensions: (widget.query.dimensions ?? []).map((d) => (d === "time" ? `time:${interval}` : d)),
    filters: [...(widget.query.filters ?? []), ...body.filters],
    date_range: range,
    tz: body.tz,
  };
  if (body.compare && !widget.options?.range) query.compare = body.compare;
  if (widget.query.order_by) query.order_by = widget.query.order_by;
  if (widget.query.limit) query.limit = widget.query.limit;
  // A series over time is drawn whole (the API's default page is 100 rows).
  else if (isTime(widget.query.dimensions?.[0] ?? "")) query.limit = 10_000;
  return query;
}

export function DashboardPage(props: PageProps) {
  const { dashboard, state, site, theme, shared } = props;
  const eff = effective(state, dashboard.defaults);
  const readonly = !!shared || !!dashboard.readonly;
  const editing = !!state.edit && !readonly;
  const [draft, setDraft] = useState<Dashboard | null>(null);
  const [answers, setAnswers] = useState<Record<string, WidgetAnswer>>({});
  const [loading, setLoading] = useState(true);
  const [pageError, setPageError] = useState<string>("");
  const [formFor, setFormFor] = useState<Widget | null>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [saveError, setSaveError] = useState("");
  const [sharing, setSharing] = useState(false);
  const [saving, setSaving] = useState(false);
  const [dragFrom, setDragFrom] = useState<number | null>(null);
  const shown = editing && draft ? draft : dashboard;
  const base = shared ? `/api/v1/shared/${encodeURIComponent(shared.token)}` : `/api/v1/dashboards/${encodeURIComponent(dashboard.id)}`;
  const body: DataBody = { site, range: eff.range, interval: eff.interval, tz: eff.tz, compare: eff.compare, filters: state.filters };
  const bodyKey = JSON.stringify(body);
  const drawn = useRef(new Set<string>());
  const draftRef = useRef<Dashboard | null>(null);
  draftRef.current = editing ? draft : null;

  useEffect(() => {
    setDraft(editing ? structuredClone(dashboard) : null);
  }, [editing, dashboard]);

  // All widgets in one call; the answers replace the previous ones when they arrive.
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setPageError("");
    drawn.current = new Set();
    delete document.documentElement.dataset.drawn;
    api
      .data(base, body, controller.signal)
      .then((answer: DataAnswer) => {
        setAnswers(answer.widgets ?? {});
        setLoading(false);
        // Widgets added or changed in the editor and not saved yet: answered one by one.
        for (const widget of draftRef.current?.widgets ?? []) {
          const saved = dashboard.widgets.find((w) => w.id === widget.id);
          if (!saved || JSON.stringify(saved) !== JSON.stringify(widget)) preview(widget);
        }
      })
      .catch((error: Error) => {
        if (error.name === "AbortError") return;
        setPageError(error.message);
        setLoading(false);
      });
    return () => controller.abort();
  }, [base, bodyKey, dashboard.version]);

  // Widgets that refresh themselves (the realtime panel): each on its own clock.
  useEffect(() => {
    const timers = dashboard.widgets
      .filter((widget) => (widget.options?.refresh_seconds ?? 0) > 0)
      .map((widget) =>
        window.setInterval(
          () => {
            if (document.hidden) return;
            const request = shared ? api.data(base, body).then((answer) => answer.widgets?.[widget.id]) : api.query(widgetQuery(widget, dashboard, body));
            request.then((answer) => answer && setAnswers((all) => ({ ...all, [widget.id]: answer }))).catch(() => {});
          },
          Math.max(5, widget.options?.refresh_seconds ?? 30) * 1000,
        ),
      );
    return () => timers.forEach((timer) => window.clearInterval(timer));
  }, [base, bodyKey, dashboard]);

  // The browser's timing of "every widget drawn" (read by the bench).
  const markDrawn = (id: string) => {
    drawn.current.add(id);
    if (drawn.current.size >= shown.widgets.length && !loading) {
      performance.mark("metronome:widgets-drawn");
      document.documentElement.dataset.drawn = String(performance.now());
    }
  };

  const change = (patch: Partial<UrlState>) => navigate({ ...state, site: state.site ?? site, ...patch });
  const drill = (field: string, value: unknown) => change({ filters: addFilter(state.filters, ["is", field, [value === null || value === undefined ? "" : String(value)]]) });

  const placed = useMemo(() => readingOrder(resolveLayout(shown.widgets)), [shown.widgets]);

  const editDraft = (widgets: Widget[]) => draft && setDraft({ ...draft, widgets });
  const preview = (widget: Widget) => {
    setAnswers((all) => {
      const copy = { ...all };
      delete copy[widget.id];
      return copy;
    });
    api
      .query(widgetQuery(widget, shown, body))
      .then((answer) => setAnswers((all) => ({ ...all, [widget.id]: answer })))
      .catch((error: ApiError) => setAnswers((all) => ({ ...all, [widget.id]: { error: { code: error.code, message: error.message } } })));
  };
  const save = async (version: string) => {
    if (!draft) return;
    setSaving(true);
    setSaveError("");
    try {
      const saved = await api.save({ ...draft, widgets: resolveLayout(draft.widgets) }, version);
      setConflict(null);
      props.onSaved(saved);
      change({ edit: false });
    } catch (error) {
      const e = error as ApiError;
      if (e.code === "version_conflict") setConflict(String(e.body.current_version ?? ""));
      else setSaveError(e.message);
    } finally {
      setSaving(false);
    }
  };

  const fixed = shared?.filters ?? [];
  return (
    <main class="page" id="main">
      <div class="page-head">
        <div class="title-block">
          {editing && draft ? (
            <input class="title-input" aria-label="Dashboard title" value={draft.title} onInput={(e) => setDraft({ ...draft, title: (e.target as HTMLInputElement).value })} />
          ) : (
            <h1>{shown.title}</h1>
          )}
          {shown.description && !editing && <p class="description">{shown.description}</p>}
        </div>
        <div class="page-actions">
          {!editing && <ReportMenu base={base} body={body} name={dashboard.id} />}
          {!shared && !editing && (
            <>
              {readonly ? (
                props.onDuplicate && (
                  <button type="button" class="button ghost" onClick={props.onDuplicate} title="Ready-made and file dashboards are read-only: edit a copy">
                    Copy to edit
                  </button>
                )
              ) : (
                <button type="button" class="button ghost" onClick={() => change({ edit: true })}>
                  Edit
                </button>
              )}
              <button type="button" class="button ghost" onClick={() => setSharing(true)}>
                Share
              </button>
            </>
          )}
          {editing && draft && (
            <>
              <button
                type="button"
                class="button ghost"
                onClick={() => {
                  const id = uniqueId("widget", draft.widgets.map((w) => w.id));
                  setFormFor({ id, title: "", type: "line", query: { metrics: ["count"], dimensions: ["time"] }, layout: { x: 0, y: 999, w: 6, h: 4 }, options: {} });
                }}
              >
                + Add widget
              </button>
              {props.onDelete && (
                <button type="button" class="button ghost danger-text" onClick={props.onDelete}>
                  Delete dashboard
                </button>
              )}
              <button type="button" class="button ghost" onClick={() => change({ edit: false })}>
                Cancel
              </button>
              <button type="button" class="button primary" disabled={saving} onClick={() => save(dashboard.version ?? "")}>
                {saving ? "Saving…" : "Save"}
              </button>
            </>
          )}
        </div>
      </div>

      <div class="toolbar" role="toolbar" aria-label="Time and comparison">
        <RangePicker range={eff.range} onChange={(range) => change({ range, interval: intervalFor(range) })} />
        <Select label="Granularity" value={eff.interval} options={INTERVAL_OPTIONS} onChange={(interval) => change({ interval })} />
        <Select label="Compare" value={eff.compare} options={COMPARE_OPTIONS} onChange={(compare) => change({ compare })} />
        <Select label="Time zone" value={eff.tz} options={zoneOptions(eff.tz)} onChange={(tz) => change({ tz })} />
      </div>
      <FilterChips filters={state.filters} fixed={fixed} onRemove={(i) => change({ filters: removeFilter(state.filters, i) })} onClear={() => change({ filters: [] })} />

      {saveError && (
        <div class="banner error" role="alert">
          {saveError}
        </div>
      )}
      {pageError && (
        <div class="banner error" role="alert">
          The dashboard's data could not load: {pageError}{" "}
          <button type="button" class="link" onClick={props.onReload}>
            Try again
          </button>
        </div>
      )}
      {editing && <p class="edit-hint">Editing: drag a widget, or use the arrows above it to move and resize it. Nothing is stored until you save.</p>}

      <div class={editing ? "grid editing" : "grid"} aria-busy={loading}>
        {placed.length === 0 && <div class="state muted grid-empty">This dashboard has no widgets yet.{editing ? " Add one." : ""}</div>}
        {placed.map((widget, index) => (
          <section
            key={widget.id}
            class={`card card-${widget.type}${dragFrom === index ? " dragging" : ""}`}
            style={{ "--x": widget.layout.x + 1, "--y": widget.layout.y + 1, "--w": widget.layout.w, "--h": widget.layout.h }}
            aria-label={widget.title}
            data-widget={widget.id}
            draggable={editing}
            onDragStart={editing ? () => setDragFrom(index) : undefined}
            onDragEnd={editing ? () => setDragFrom(null) : undefined}
            onDragOver={editing ? (event) => event.preventDefault() : undefined}
            onDrop={
              editing
                ? (event) => {
                    event.preventDefault();
                    if (dragFrom !== null && dragFrom !== index) editDraft(moveItem(placed, dragFrom, index - dragFrom));
                    setDragFrom(null);
                  }
                : undefined
            }
          >
            <header class="card-head">
              <h2 class="card-title">{widget.title}</h2>
              {widget.options?.refresh_seconds ? <span class="live" title={`Refreshes every ${widget.options.refresh_seconds} s`}>Live</span> : null}
              {widget.options?.range && !widget.options.refresh_seconds ? <span class="pill">{rangeLabel(widget.options.range)}</span> : null}
              {!editing && <WidgetMenu widget={widget} base={base} body={body} dashboard={dashboard} />}
              {editing && (
                <div class="edit-controls" role="toolbar" aria-label={`Arrange ${widget.title}`}>
                  <IconButton label={`Move ${widget.title} earlier`} icon="up" disabled={index === 0} onClick={() => editDraft(moveItem(placed, index, -1))} />
                  <IconButton label={`Move ${widget.title} later`} icon="down" disabled={index === placed.length - 1} onClick={() => editDraft(moveItem(placed, index, 1))} />
                  <IconButton label="Narrower" icon="narrower" disabled={widget.layout.w <= 1} onClick={() => editDraft(resizeItem(placed, index, { w: -1 }))} />
                  <IconButton label="Wider" icon="wider" disabled={widget.layout.w >= 12} onClick={() => editDraft(resizeItem(placed, index, { w: 1 }))} />
                  <IconButton label="Shorter" icon="shorter" disabled={widget.layout.h <= 1} onClick={() => editDraft(resizeItem(placed, index, { h: -1 }))} />
                  <IconButton label="Taller" icon="taller" disabled={widget.layout.h >= 12} onClick={() => editDraft(resizeItem(placed, index, { h: 1 }))} />
                  {widget.layout.w >= 4 && (
                    <span class="edit-size" title="Width (of 12) × height (rows)">
                      {widget.layout.w}×{widget.layout.h}
                    </span>
                  )}
                  <span class="spacer" />
                  <IconButton label={`Edit ${widget.title}`} icon="edit" onClick={() => setFormFor(widget)} />
                  <IconButton
                    label={`Duplicate ${widget.title}`}
                    icon="duplicate"
                    onClick={() => {
                      const copy = { ...structuredClone(widget), id: uniqueId(widget.id, placed.map((w) => w.id)), title: `${widget.title} (copy)` };
                      editDraft(insertAfter(placed, index, copy));
                      setAnswers((all) => ({ ...all, [copy.id]: all[widget.id] }));
                    }}
                  />
                  <IconButton label={`Delete ${widget.title}`} icon="delete" danger onClick={() => editDraft(removeItem(placed, index))} />
                </div>
              )}
            </header>
            <WidgetBody
              widget={widget}
              answer={answers[widget.id]}
              loading={loading}
              interval={eff.interval}
              compare={eff.compare}
              theme={theme}
              onDrill={editing ? undefined : drill}
              onDrawn={() => markDrawn(widget.id)}
            />
          </section>
        ))}
      </div>

      {formFor && draft && (
        <WidgetForm
          widget={formFor}
          dashboard={draft}
          site={site}
          onClose={() => setFormFor(null)}
          onSave={(widget) => {
            const exists = placed.findIndex((w) => w.id === widget.id);
            editDraft(exists >= 0 ? resizeItem(placed.map((w, i) => (i === exists ? widget : w)), exists, {}) : insertAfter(placed, placed.length - 1, widget));
            setFormFor(null);
            preview(widget);
          }}
        />
      )}
      {conflict !== null && (
        <ConflictDialog
          onClose={() => setConflict(null)}
          onReload={() => {
            setConflict(null);
            change({ edit: false });
            props.onReload();
          }}
          onOverwrite={() => save(conflict)}
        />
      )}
      {sharing && <ShareDialog dashboard={dashboard} site={site} filters={state.filters} onClose={() => setSharing(false)} />}
    </main>
  );
}

const ICONS: Record<string, string> = {
  up: "M8 13V3M4 7l4-4 4 4",
  down: "M8 3v10M4 9l4 4 4-4",
  narrower: "M1 8h5M3.5 5.5 6 8l-2.5 2.5M15 8h-5M12.5 5.5 10 8l2.5 2.5",
  wider: "M7 8H1M3.5 5.5 1 8l2.5 2.5M9 8h6M12.5 5.5 15 8l-2.5 2.5",
  shorter: "M8 1v5M5.5 3.5 8 6l2.5-2.5M8 15v-5M5.5 12.5 8 10l2.5 2.5",
  taller: "M8 7V1M5.5 3.5 8 1l2.5 2.5M8 9v6M5.5 12.5 8 15l2.5-2.5",
  edit: "M10.5 2.5l3 3L6 13H3v-3z",
  duplicate: "M5.5 5.5h8v8h-8zM10.5 5.5v-3h-8v8h3",
  delete: "M2.5 4h11M6 4V2.5h4V4M4 4l.8 9.5h6.4L12 4",
};

function IconButton({ label, icon, onClick, disabled, danger }: { label: string; icon: string; onClick: () => void; disabled?: boolean; danger?: boolean }) {
  return (
    <button type="button" class={danger ? "icon-button danger-text" : "icon-button"} aria-label={label} title={label} disabled={disabled} onClick={onClick}>
      <svg viewBox="0 0 16 16" width="15" height="15" aria-hidden="true">
        <path d={ICONS[icon]} fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" />
      </svg>
    </button>
  );
}

function WidgetMenu({ widget, base, body, dashboard }: { widget: Widget; base: string; body: DataBody; dashboard: Dashboard }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState("");
  const fetchFile = async (format: "csv" | "xlsx") => {
    setOpen(false);
    try {
      await download(base, widget.id, format, body, `${dashboard.id}-${widget.id}`);
    } catch (e) {
      setError((e as ApiError).message);
    }
  };
  return (
    <div class="menu">
      <button type="button" class="icon-button" aria-haspopup="menu" aria-expanded={open} aria-label={`Download ${widget.title}`} title="Download the data" onClick={() => setOpen(!open)}>
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <path d="M8 2v8m0 0L4.5 6.5M8 10l3.5-3.5M3 13h10" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" />
        </svg>
      </button>
      {open && (
        <div class="menu-list" role="menu" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
          <button type="button" role="menuitem" onClick={() => fetchFile("csv")}>
            Download CSV
          </button>
          <button type="button" role="menuitem" onClick={() => fetchFile("xlsx")}>
            Download XLSX
          </button>
        </div>
      )}
      {error && (
        <span class="menu-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

const REPORT_CHOICES: [ReportFormat, "a4" | "letter", string][] = [
  ["pdf", "a4", "Download PDF (A4)"],
  ["pdf", "letter", "Download PDF (Letter)"],
  ["png", "a4", "Download PNG"],
  ["xlsx", "a4", "Download XLSX"],
];

/** The whole dashboard as a file, for the page as it is (range, zone, comparison, filters). */
function ReportMenu({ base, body, name }: { base: string; body: DataBody; name: string }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const fetchReport = async (format: ReportFormat, paper: "a4" | "letter", label: string) => {
    setOpen(false);
    setError("");
    setBusy(label);
    try {
      await downloadReport(base, format, body, paper, name);
    } catch (e) {
      setError((e as ApiError).message);
    } finally {
      setBusy("");
    }
  };
  return (
    <div class="menu">
      <button type="button" class="button ghost" aria-haspopup="menu" aria-expanded={open} disabled={!!busy} onClick={() => setOpen(!open)}>
        {busy ? "Preparing…" : "Download"}
      </button>
      {open && (
        <div class="menu-list" role="menu" aria-label="Download the dashboard" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
          {REPORT_CHOICES.map(([format, paper, label]) => (
            <button type="button" role="menuitem" key={label} onClick={() => fetchReport(format, paper, label)}>
              {label}
            </button>
          ))}
        </div>
      )}
      {error && (
        <span class="menu-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

export function answerError(answer: WidgetAnswer | undefined): string | null {
  return isError(answer) ? answer.error.message : null;
}

export const timeDimension = isTime;
