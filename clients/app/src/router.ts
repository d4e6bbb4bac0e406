// The location as app state: every change goes through navigate(), back/forward re-render.
import { useEffect, useState } from "preact/hooks";
import { decodeState, encodeState, type UrlState } from "./state";

const listeners = new Set<() => void>();

export function navigate(state: UrlState, options: { replace?: boolean } = {}): void {
  const url = window.location.pathname + encodeState(state);
  if (url === window.location.pathname + window.location.search) return;
  if (options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  listeners.forEach((listener) => listener());
}

export function currentState(): UrlState {
  return decodeState(window.location.search);
}

/** The current URL state; re-renders on navigate() and on back/forward. */
export function useUrlState(): UrlState {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((tick) => tick + 1);
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return currentState();
}
