// Chart.js with only what the dashboards draw registered (tree-shaken): line, bar, doughnut
// (pie and donut), scatter; filler for areas; category and linear scales; tooltip and legend.
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
} from "chart.js";

Chart.register(
  LineController, BarController, DoughnutController, ScatterController,
  LineElement, BarElement, ArcElement, PointElement,
  CategoryScale, LinearScale, Filler, Tooltip, Legend,
);

export { Chart };

/** The theme's colours, read from the CSS custom properties of the document. */
export interface Palette { text: string; muted: string; grid: string; series: string[]; surface: string }

export function palette(): Palette {
  const style = getComputedStyle(document.documentElement);
  const read = (name: string) => style.getPropertyValue(name).trim();
  const series: string[] = [];
  for (let i = 1; i <= 8; i++) series.push(read(`--series-${i}`));
  return { text: read("--text"), muted: read("--muted"), grid: read("--grid"), series, surface: read("--surface") };
}

/** The colour with an alpha (for fills and the compare period). */
export function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(color.trim());
  if (!hex) return color;
  const n = parseInt(hex[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
