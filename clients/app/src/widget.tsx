// One widget's body: a chart (line, area, bar, pie, donut, scatter), a number with change and
// sparkline, or a table; with its loading, empty and error states.
import type { ChartConfiguration, ChartDataset } from "chart.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { Chart, palette, withAlpha } from "./charts";
import { bucketLabel, bucketLabels, changeNote, compareLabel, fieldLabel, formatCompact, formatNumber, metricLabel, metricUnit, valueLabel } from "./format";
import { bucketKeys } from "./buckets";
import { buildSeries, isAdditive, isolatedAt, totalOf } from "./series";
import type { Theme } from "./theme";
import { isError, type QueryAnswer, type Row, type Widget, type WidgetAnswer } from "./types";

export interface WidgetProps {
  widget: Widget;
  answer: WidgetAnswer | undefined;
  loading: boolean;
  interval: string;
  compare: string | null;
  theme: Theme;
  onDrill?: (field: string, value: unknown) => void;
  onDrawn?: () => void;
  exact?: boolean; // numbers in full (a report has no tooltip for the short form's exact value)
}

const isTime = (dimension: string) => dimension === "time" || dimension.startsWith("time:");

export function drillField(widget: Widget): string | null {
  return (widget.query.dimensions ?? []).find((d) => !isTime(d)) ?? null;
}

function timeInterval(widget: Widget, interval: string): string {
  const time = (widget.query.dimensions ?? []).find(isTime);
  return time && time.includes(":") ? time.split(":")[1] : interval;
}

function hasData(rows: Row[]): boolean {
  return rows.some((row) => row.metrics.some((value) => value !== null && value !== 0));
}

const GENTLE = new Set(["filter_not_applicable", "unknown_field"]);

export function WidgetBody(props: WidgetProps) {
  const { widget, answer, loading, onDrawn } = props;
  const rows = answer && !isError(answer) ? answer.results ?? [] : [];
  const drawsItself = answer && !isError(answer) && (widget.type === "number" || (widget.type === "table" ? rows.length > 0 : hasData(rows)));
  useEffect(() => {
    if (answer && !drawsItself) onDrawn?.();
  }, [answer]);
  if (!answer) return <Skeleton type={widget.type} />;
  if (isError(answer)) {
    const gentle = GENTLE.has(answer.error.code);
    return (
      <div class={gentle ? "state muted" : "state error"} role={gentle ? undefined : "alert"}>
        <strong>{gentle ? "Nothing to show" : "This widget could not load"}</strong>
        <span>{answer.error.message}</span>
      </div>
    );
  }
  const body = (() => {
    switch (widget.type) {
      case "number":
        return <NumberWidget {...props} answer={answer} />;
      case "table":
        return rows.length ? <TableWidget {...props} answer={answer} /> : <Empty />;
      default:
        return hasData(rows) ? <ChartWidget {...props} answer={answer} /> : <Empty />;
    }
  })();
  return <div class={loading ? "widget-body refreshing" : "widget-body"}>{body}</div>;
}

function Empty() {
  return (
    <div class="state muted">
      <span>No data in this range</span>
    </div>
  );
}

function Skeleton({ type }: { type: string }) {
  return (
    <div class={`skeleton skeleton-${type}`} aria-busy="true" aria-label="Loading">
      <span />
      <span />
      <span />
    </div>
  );
}

type Props = WidgetProps & { answer: QueryAnswer };

function useDrawn(onDrawn: (() => void) | undefined, deps: unknown[]) {
  useEffect(() => {
    onDrawn?.();
  }, deps);
}

function NumberWidget({ widget, answer, interval, compare: compareMode, onDrawn, exact }: Props) {
  const metric = widget.query.metrics[0];
  const unit = metricUnit(metric, widget.options?.unit);
  const rows = answer.results;
  const totalRow = answer.total ? (answer.total.results[0] ?? { dimensions: [], metrics: [0] }) : undefined;
  const { value, change, previous } = totalOf(rows, totalRow, 0, isAdditive(metric));
  const series = rows.filter((row) => row.dimensions.length > 0).map((row) => row.metrics[0] ?? 0);
  const compare = rows.filter((row) => row.dimensions.length > 0 && row.compare).map((row) => row.compare?.metrics[0] ?? 0);
  useDrawn(onDrawn, [answer]);
  // Nothing counted is "no data"; a gauge that reads 0 (dead letters: none) is a real 0.
  const counted = metric === "visitors" || metric === "sessions" || isAdditive(metric);
  if (value === null || (value === 0 && counted && !hasData(rows))) {
    return (
      <div class="number">
        <div class="number-value muted">{value === null ? "–" : "0"}</div>
        <div class="number-note">No data in this range</div>
      </div>
    );
  }
  return (
    <div class="number">
      <div class="number-value" title={formatNumber(value, unit)}>
        {exact ? formatNumber(value, unit) : formatCompact(value, unit)}
      </div>
      {compareMode && <Change note={changeNote(value, previous, change)} against={compareLabel(compareMode)} />}
      {series.length > 1 && <Sparkline values={series} compare={compare.length === series.length ? compare : []} label={`${metricLabel(metric)} by ${interval}`} />}
    </div>
  );
}

function Change({ note, against }: { note: ReturnType<typeof changeNote>; against: string }) {
  if (note.direction === "none") return <div class="change none">— vs {against}</div>;
  const arrow = note.direction === "up" ? "▲" : note.direction === "down" ? "▼" : "■";
  return (
    <div class={`change ${note.direction}`}>
      <span aria-hidden="true">{arrow}</span> <strong>{note.text}</strong> <span class="change-against">vs {against}</span>
    </div>
  );
}

function Sparkline({ values, compare, label }: { values: number[]; compare: number[]; label: string }) {
  const width = 200;
  const height = 40;
  const max = Math.max(1, ...values, ...compare);
  const path = (points: number[]) =>
    points.map((v, i) => `${i ? "L" : "M"}${((i / (points.length - 1)) * width).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join("");
  const line = path(values);
  return (
    <svg class="sparkline" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={label}>
      {compare.length > 1 && <path d={path(compare)} class="spark-compare" />}
      <path d={`${line}L${width},${height}L0,${height}Z`} class="spark-fill" />
      <path d={line} class="spark-line" />
    </svg>
  );
}

function TableWidget({ widget, answer, interval, onDrill, onDrawn }: Props) {
  const dimensions = answer.query?.dimensions ?? widget.query.dimensions ?? [];
  const metrics = widget.query.metrics;
  const field = drillField(widget);
  const drill = widget.options?.drilldown !== false && field && onDrill ? onDrill : undefined;
  const fieldIndex = field ? (widget.query.dimensions ?? []).indexOf(field) : -1;
  const rows = answer.results;
  // The bar shows the metric the rows are ranked by, so bars and order agree.
  const ranked = Math.max(0, metrics.indexOf(widget.query.order_by?.[0]?.[0] ?? ""));
  const max = Math.max(1, ...rows.map((row) => row.metrics[ranked] ?? 0));
  useDrawn(onDrawn, [answer]);
  // Rows that do not all fit fade out at the bottom edge, so a cut row reads as "scroll on".
  const scroller = useRef<HTMLDivElement>(null);
  const [more, setMore] = useState(false);
  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const update = () => setMore(element.scrollHeight - element.scrollTop - element.clientHeight > 2);
    update();
    const observer = new ResizeObserver(update);
    observer.observe(element);
    element.addEventListener("scroll", update, { passive: true });
    return () => {
      observer.disconnect();
      element.removeEventListener("scroll", update);
    };
  }, [answer]);
  const label = (row: Row) =>
    row.dimensions.map((value, i) => (isTime(dimensions[i] ?? widget.query.dimensions?.[i] ?? "") ? bucketLabel(String(value), timeInterval(widget, interval)) : valueLabel(value, dimensions[i]))).join(" · ");
  return (
    <div class="table" role="table" aria-label={widget.title} style={{ "--metrics": metrics.length }}>
      <div class="table-head" role="row">
        <span role="columnheader">{(widget.query.dimensions ?? []).map(fieldLabel).join(" · ") || "Total"}</span>
        {metrics.map((metric) => (
          <span role="columnheader" class="num" key={metric}>
            {widgetMetricLabel(widget, metric)}
          </span>
        ))}
      </div>
      <div class={more ? "table-rows more" : "table-rows"} ref={scroller}>
        {rows.map((row, r) => {
          const activate = drill && fieldIndex >= 0 ? () => drill(field as string, row.dimensions[fieldIndex]) : undefined;
          return (
            <div
              key={r}
              role="row"
              class={activate ? "table-row clickable" : "table-row"}
              tabIndex={activate ? 0 : undefined}
              title={activate ? `Filter by ${fieldLabel(field as string)}: ${valueLabel(row.dimensions[fieldIndex], field as string)}` : undefined}
              onClick={activate}
              onKeyDown={
                activate
                  ? (event) => {
                      if (event.key === "Enter" || event.key === " ") {
                        event.preventDefault();
                        activate();
                      }
                    }
                  : undefined
              }
            >
              <span role="cell" class="cell-label">
                <span class="bar" style={{ width: `${(((row.metrics[ranked] ?? 0) / max) * 100).toFixed(1)}%` }} />
                <span class="label-text">{label(row)}</span>
              </span>
              {row.metrics.map((value, m) => (
                <span role="cell" class="num" key={m}>
                  {formatNumber(value, metricUnit(metrics[m] ?? "", widget.options?.unit))}
                </span>
              ))}
            </div>
          );
        })}
      </div>
      {answer.meta?.has_more && <div class="table-more">Showing the top {rows.length} of {formatNumber(answer.meta.total_rows ?? null)}</div>}
    </div>
  );
}

function ChartWidget(props: Props) {
  const { widget, answer, interval, theme, onDrill, onDrawn } = props;
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const config = chartConfig(widget, answer, interval, props.compare, onDrill);
    const chart = new Chart(canvas.current, config);
    // What is drawn, readable without the canvas (end-to-end tests, assistive checks).
    canvas.current.dataset.series = JSON.stringify({
      labels: config.data.labels,
      series: config.data.datasets.map((d) => {
        const drawn = d as { borderDash?: number[]; spanGaps?: boolean; pointRadius?: unknown };
        const dots = Array.isArray(drawn.pointRadius) ? drawn.pointRadius.filter((r) => r > 0).length : 0;
        return { label: d.label, dashed: !!drawn.borderDash, values: d.data, joined: !!drawn.spanGaps, dots };
      }),
    });
    onDrawn?.();
    return () => chart.destroy();
  }, [answer, theme, interval, widget, props.compare]);
  return (
    <div class="chart">
      <canvas ref={canvas} role="img" aria-label={`${widget.title}: ${widget.type} chart`} />
    </div>
  );
}

function chartConfig(widget: Widget, answer: QueryAnswer, interval: string, compare: string | null, onDrill: WidgetProps["onDrill"]): ChartConfiguration {
  const colors = palette();
  const metrics = widget.query.metrics;
  const options = widget.options ?? {};
  const unit = metricUnit(metrics[0], options.unit);
  const dimensions = widget.query.dimensions ?? [];
  const timeFirst = dimensions.length > 0 && isTime(dimensions[0]);
  const field = drillField(widget);
  const drill = options.drilldown !== false && field && onDrill ? onDrill : undefined;
  const rows = answer.results;
  const font = { family: getComputedStyle(document.body).fontFamily, size: 12 };
  const tooltip = {
    backgroundColor: colors.surface,
    titleColor: colors.text,
    bodyColor: colors.text,
    borderColor: colors.grid,
    borderWidth: 1,
    padding: 10,
    boxPadding: 4,
    usePointStyle: true,
    callbacks: {
      label: (item: { dataset: { label?: string }; parsed: unknown; raw: unknown }) => {
        const parsed = item.parsed as { x?: number; y?: number } | number;
        const value = typeof parsed === "number" ? parsed : widget.type === "bar" && !timeFirst ? parsed.x : parsed.y;
        return ` ${item.dataset.label ?? ""}: ${formatNumber(value ?? null, unit)}`;
      },
    },
  };
  const legend = (show: boolean, position: "top" | "right" | "bottom" = "top") => ({
    display: show,
    position,
    align: "start" as const,
    labels: { color: colors.muted, usePointStyle: true, pointStyle: "circle" as const, boxWidth: 8, boxHeight: 8, padding: 14, font },
  });
  const cursor = (event: { native: Event | null }, elements: unknown[]) => {
    const target = event.native?.target as HTMLElement | undefined;
    if (target) target.style.cursor = drill && elements.length ? "pointer" : "default";
  };
  const scaleCommon = {
    grid: { color: colors.grid, drawTicks: false },
    border: { display: false },
    ticks: { color: colors.muted, font, padding: 8 },
  };

  if (widget.type === "pie" || widget.type === "donut") {
    const max = 8;
    const sorted = rows.slice().sort((a, b) => (b.metrics[0] ?? 0) - (a.metrics[0] ?? 0));
    const top = sorted.slice(0, max);
    const rest = sorted.slice(max).reduce((sum, row) => sum + (row.metrics[0] ?? 0), 0);
    const labels = top.map((row) => valueLabel(row.dimensions[0], dimensions[0]));
    const values = top.map((row) => row.metrics[0] ?? 0);
    if (rest > 0) {
      labels.push("Other");
      values.push(rest);
    }
    return {
      type: "doughnut",
      data: {
        labels,
        datasets: [{ label: metricLabel(metrics[0]), data: values, backgroundColor: labels.map((_, i) => colors.series[i % colors.series.length]), borderColor: colors.surface, borderWidth: labels.length > 1 ? 2 : 0 }],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        cutout: widget.type === "donut" ? "62%" : 0,
        layout: { padding: 4 },
        plugins: { legend: legend(true, widget.layout.w >= 4 ? "right" : "bottom"), tooltip },
        onHover: cursor,
        onClick: (_event, elements) => {
          const index = elements[0]?.index;
          if (drill && index !== undefined && index < top.length) drill(field as string, top[index].dimensions[0]);
        },
      } as ChartConfiguration<"doughnut">["options"],
    } as ChartConfiguration;
  }

  if (widget.type === "scatter") {
    const labelIndex = dimensions.findIndex((d) => !isTime(d));
    const points = rows.map((row) => ({ x: row.metrics[0] ?? 0, y: row.metrics[1] ?? 0, label: labelIndex >= 0 ? valueLabel(row.dimensions[labelIndex]) : "" }));
    const unitY = metricUnit(metrics[1] ?? "", options.unit);
    return {
      type: "scatter",
      data: { datasets: [{ label: widget.title, data: points, backgroundColor: withAlpha(colors.series[0], 0.7), borderColor: colors.series[0], pointRadius: 5, pointHoverRadius: 7 }] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { ...scaleCommon, beginAtZero: true, title: { display: true, text: metricLabel(metrics[0]), color: colors.muted, font }, ticks: { ...scaleCommon.ticks, callback: (v) => formatCompact(Number(v), unit) } },
          y: { ...scaleCommon, beginAtZero: true, title: { display: true, text: metricLabel(metrics[1] ?? ""), color: colors.muted, font }, ticks: { ...scaleCommon.ticks, callback: (v) => formatCompact(Number(v), unitY) } },
        },
        plugins: {
          legend: legend(false),
          tooltip: {
            ...tooltip,
            callbacks: {
              label: (item) => {
                const point = item.raw as { x: number; y: number; label: string };
                return ` ${point.label ? point.label + ": " : ""}${formatNumber(point.x, unit)} · ${formatNumber(point.y, unitY)}`;
              },
            },
          },
        },
        onHover: cursor,
        onClick: (_event, elements) => {
          const index = elements[0]?.index;
          if (drill && index !== undefined && labelIndex >= 0) drill(field as string, rows[index].dimensions[labelIndex]);
        },
      },
    };
  }

  // line, area, bar
  const overlay = options.overlay !== false;
  const name = (metric: string) => widgetMetricLabel(widget, metric);
  const range = answer.query?.date_range;
  const bucketsOf = timeFirst && Array.isArray(range) && rows.some((row) => row.dimensions.length > 1) ? bucketKeys(range[0], range[1], timeInterval(widget, interval), answer.query?.tz ?? "UTC") : null;
  const data = buildSeries(rows, metrics, { overlay, metricLabel: name, buckets: bucketsOf });
  for (const series of data.series) if (series.compare) series.label = `${name(series.key)} (${compareLabel(compare)})`;
  const bucket = timeInterval(widget, interval);
  const labels = timeFirst ? bucketLabels(data.labels, bucket) : data.keys.map((key) => valueLabel(key, dimensions[0]));
  const stacked = !!options.stacked;
  const horizontal = widget.type === "bar" && !timeFirst;
  const split = rows.some((row) => row.dimensions.length > 1);
  // Gauges and averages (max:, avg:...) have no value where no sample fell: the line joins the
  // samples across those buckets. Counts and sums are 0 there, and a gap is a gap.
  const gaps = !split && !metrics.every(isAdditive);
  let colorIndex = 0;
  const datasets = data.series.map((series) => {
    const color = series.compare ? colors.series[(colorIndex - 1 + colors.series.length) % colors.series.length] : colors.series[colorIndex++ % colors.series.length];
    const base = { label: series.label, data: series.values };
    if (widget.type === "bar") {
      return {
        ...base,
        backgroundColor: series.compare ? withAlpha(color, 0.3) : color,
        borderColor: color,
        borderWidth: series.compare ? 1 : 0,
        borderDash: series.compare ? [4, 3] : undefined,
        borderRadius: 3,
        maxBarThickness: 42,
        stack: stacked ? (series.compare ? "compare" : "main") : undefined,
      } as ChartDataset<"bar">;
    }
    return {
      ...base,
      borderColor: series.compare ? withAlpha(color, 0.55) : color,
      backgroundColor: series.compare ? withAlpha(color, 0.55) : color,
      pointBackgroundColor: series.compare ? withAlpha(color, 0.55) : color,
      borderDash: series.compare ? [6, 4] : undefined,
      borderWidth: series.compare ? 1.5 : 2,
      // A value with no neighbour would be no line at all: it is drawn as a dot.
      pointRadius: series.values.map((_, i) => (labels.length <= 2 || isolatedAt(series.values, i, gaps) ? 3 : 0)),
      pointHoverRadius: 4,
      tension: 0, // straight segments: a smoothed step from 0 to 6 overshoots and misleads
      fill: widget.type === "area" && !series.compare ? { target: stacked ? "stack" : "origin", above: withAlpha(color, stacked ? 0.45 : 0.16), below: withAlpha(color, 0.16) } : false,
      stack: series.compare ? "compare" : "main",
      order: series.compare ? 1 : 0, // the dashed compare lines under the current ones
      spanGaps: gaps,
    } as ChartDataset<"line">;
  });
  const valueScale = { ...scaleCommon, beginAtZero: true, stacked, ticks: { ...scaleCommon.ticks, maxTicksLimit: 5, callback: (v: string | number) => formatCompact(Number(v), unit) } };
  const categoryScale = {
    ...scaleCommon,
    stacked,
    grid: { display: false },
    ticks: { ...scaleCommon.ticks, autoSkip: true, maxRotation: 0, maxTicksLimit: horizontal ? undefined : 8, callback: (_: unknown, i: number) => truncate(labels[i] ?? "", horizontal ? 22 : 14) },
  };
  return {
    type: widget.type === "bar" ? "bar" : "line",
    data: { labels, datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      indexAxis: horizontal ? "y" : "x",
      interaction: { mode: horizontal ? "nearest" : "index", intersect: horizontal, axis: horizontal ? "y" : "x" },
      scales: horizontal ? { x: valueScale, y: categoryScale } : { x: categoryScale, y: valueScale },
      plugins: { legend: legend(datasets.length > 1), tooltip: { ...tooltip, callbacks: { ...tooltip.callbacks, title: (items: { dataIndex: number }[]) => (timeFirst ? data.labels[items[0]?.dataIndex ?? 0] ?? "" : labels[items[0]?.dataIndex ?? 0] ?? "") } } },
      onHover: cursor,
      onClick: (_event, elements) => {
        const element = elements[0];
        if (!drill || !element) return;
        if (!timeFirst) drill(field as string, data.keys[element.index]);
        else if (split) {
          const series = data.series[element.datasetIndex];
          if (series && series.label !== "Other") drill(field as string, series.key);
        }
      },
    } as ChartConfiguration["options"],
  } as ChartConfiguration;
}

/** "count" of a widget filtered on one event reads as that event: "Views", "Downloads". */
export function widgetMetricLabel(widget: Widget, metric: string): string {
  if (metric === "count") {
    const events = (widget.query.filters ?? []).find(([op, field, values]) => op === "is" && field === "event" && values.length === 1);
    if (events) return fieldLabel(`${events[2][0]}s`);
  }
  return metricLabel(metric);
}

function truncate(text: string, length: number): string {
  return text.length > length ? text.slice(0, length - 1) + "…" : text;
}
