// A dashboard as a report: the page Metronome's server renders into PDF and PNG in a headless
// browser (metronome/reports). The same widgets as the app draws, from data given in the page
// (no request leaves it): a heading that says what the numbers are (site, range, zone,
// comparison, filters, when), then the grid cut into bands a page may end between.
import { useEffect, useRef } from "preact/hooks";
import { FilterChips } from "./controls";
import { compareLabel } from "./format";
import { bands } from "./grid";
import { rangeLabel } from "./state";
import { isError, type Dashboard, type DataAnswer, type Filter, type Range, type WidgetAnswer } from "./types";
import { WidgetBody } from "./widget";

/** What the server puts in the page (a JSON script element, `#report-data`). */
export interface ReportPayload {
  dashboard: Dashboard;
  data: DataAnswer;
  page: { range: Range; interval: string; tz: string; compare: string | null; filters: Filter[] };
  fixed_filters: Filter[];
  site: string;
  title: string;
  generated_at: string;
}

const INTERVAL_NAMES: Record<string, string> = { minute: "minute", hour: "hour", day: "day", week: "week", month: "month", quarter: "quarter", year: "year" };

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

/** The range as named and as the instants it covers (its end excluded). */
export function reportRangeLabel(range: Range, answered: { from: string; to: string } | undefined, tz: string): string {
  const named = rangeLabel(range);
  if (!answered) return named;
  return `${named} (${instantLabel(answered.from, tz)} – ${instantLabel(answered.to, tz)})`;
}

/** Rows a pie's legend adds under it beyond the first two (at most 8 slices and "Other"). */
function legendRows(answer: WidgetAnswer | undefined): number {
  if (!answer || isError(answer)) return 0;
  return Math.max(0, Math.min(9, answer.results?.length ?? 0) - 2);
}

export function ReportPage({ report }: { report: ReportPayload }) {
  const { dashboard, data, page } = report;
  const drawn = useRef(new Set<string>());
  const total = dashboard.widgets.length;
  const markDrawn = (id: string) => {
    drawn.current.add(id);
    if (drawn.current.size >= total) document.documentElement.dataset.reportDrawn = "1";
  };
  useEffect(() => {
    if (total === 0) document.documentElement.dataset.reportDrawn = "1";
  }, []);
  const compared = page.compare && data.compare_range ? `${compareLabel(page.compare)} (${instantLabel(data.compare_range.from, page.tz)} – ${instantLabel(data.compare_range.to, page.tz)})` : "none";
  return (
    <main class="report" id="report">
      <header class="report-head">
        <h1>{report.title}</h1>
        {dashboard.description && <p class="description">{dashboard.description}</p>}
        <dl class="report-facts">
          <div>
            <dt>Site</dt>
            <dd>{report.site}</dd>
          </div>
          <div>
            <dt>Range</dt>
            <dd>{reportRangeLabel(page.range, data.range, page.tz)}</dd>
          </div>
          <div>
            <dt>Granularity</dt>
            <dd>by {INTERVAL_NAMES[page.interval] ?? page.interval}</dd>
          </div>
          <div>
            <dt>Time zone</dt>
            <dd>{page.tz}</dd>
          </div>
          <div>
            <dt>Compared with</dt>
            <dd>{compared}</dd>
          </div>
          <div>
            <dt>Generated</dt>
            <dd>{instantLabel(report.generated_at, page.tz)}</dd>
          </div>
        </dl>
        {page.filters.length || report.fixed_filters.length ? (
          <div class="report-filters">
            <span class="report-filters-label">Filters</span>
            <FilterChips filters={page.filters} fixed={report.fixed_filters} />
          </div>
        ) : (
          <p class="report-filters-none">No filters: every hit of the site.</p>
        )}
      </header>
      {total === 0 && <p class="state muted">This dashboard has no widgets.</p>}
      {bands(dashboard.widgets).map((band, b) => (
        <div class="grid report-band" key={b}>
          {band.map((widget) => (
            <section
              key={widget.id}
              class={`card card-${widget.type}${(widget.type === "pie" || widget.type === "donut") && widget.layout.w < 4 ? " narrow" : ""}`}
              style={{ "--x": widget.layout.x + 1, "--y": widget.layout.y + 1, "--w": widget.layout.w, "--h": widget.layout.h, "--legend": legendRows(data.widgets?.[widget.id]) }}
              aria-label={widget.title}
              data-widget={widget.id}
            >
              <header class="card-head">
                <h2 class="card-title">{widget.title}</h2>
                {widget.options?.range ? <span class="pill">{rangeLabel(widget.options.range)}</span> : null}
              </header>
              <WidgetBody
                widget={widget}
                answer={data.widgets?.[widget.id] ?? { error: { code: "missing", message: "No data was given for this widget." } }}
                loading={false}
                interval={page.interval}
                compare={widget.options?.overlay === false ? null : page.compare}
                theme="light"
                exact
                onDrawn={() => markDrawn(widget.id)}
              />
            </section>
          ))}
        </div>
      ))}
    </main>
  );
}
