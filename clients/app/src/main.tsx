// Entry point: the stored theme first (no flash), then the app into #app.
import { render } from "preact";
import { App } from "./app";
import { applyStoredTheme } from "./theme";
import "./styles.css";

applyStoredTheme();
const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
