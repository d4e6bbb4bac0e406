// Entry point: the stored theme first (no flash), then the app into #app; or, in a page the
// server renders as a report (a #report-data element holds its data), the report.
import { render } from "preact";
import { App } from "./app";
import { ReportPage, type ReportPayload } from "./report";
import { applyStoredTheme } from "./theme";
import "./styles.css";

const reportData = document.getElementById("report-data");
const root = document.getElementById("app");
if (reportData && root) {
  document.documentElement.dataset.theme = "light";
  document.documentElement.dataset.report = "";
  root.textContent = "";
  render(<ReportPage report={JSON.parse(reportData.textContent ?? "{}") as ReportPayload} />, root);
} else if (root) {
  applyStoredTheme();
  root.textContent = "";
  render(<App />, root);
}
