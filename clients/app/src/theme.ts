// Light and dark: the system's preference unless the person chose one (kept in localStorage).
import { useEffect, useState } from "preact/hooks";

const KEY = "metronome-theme";
const media = () => window.matchMedia("(prefers-color-scheme: dark)");

export type Theme = "light" | "dark";

function stored(): Theme | null {
  try {
    const value = localStorage.getItem(KEY);
    return value === "light" || value === "dark" ? value : null;
  } catch {
    return null;
  }
}

export function applyStoredTheme(): void {
  const theme = stored();
  if (theme) document.documentElement.dataset.theme = theme;
}

function current(): Theme {
  return stored() ?? (media().matches ? "dark" : "light");
}

export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(current);
  useEffect(() => {
    const query = media();
    const update = () => setTheme(current());
    query.addEventListener("change", update);
    return () => query.removeEventListener("change", update);
  }, []);
  const toggle = () => {
    const next: Theme = theme === "dark" ? "light" : "dark";
    try {
      localStorage.setItem(KEY, next);
    } catch {
      /* private mode: the choice lasts this page */
    }
    document.documentElement.dataset.theme = next;
    setTheme(next);
  };
  return [theme, toggle];
}
