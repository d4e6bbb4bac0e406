// The location as app state: every change goes through navigate(), back/forward re-render.
import { useEffect, useState } from "preact/hooks";
import { decodeState, encodeState, type UrlState } from "./state";

const listeners = new Set<() => void>();

export function navigate(state: UrlState, options: { replace?: boolean } = {}): void {
  const url = window.location.pathname + encodeState(state);
  if (url === window.location.pathname + window.location.search) return;
  viewChanging(currentState(), state);
  if (options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  listeners.forEach((listener) => listener());
}

const viewOf = (state: UrlState) => encodeState({ ...state, edit: false });
let shown = "";

/** A new view is drawn again: "every widget drawn" stops being true at once (not when the
 * data effect runs), so whoever waits for it never reads the previous view's mark. */
function viewChanging(from: UrlState, to: UrlState): void {
  if (viewOf(from) !== viewOf(to)) delete document.documentElement.dataset.drawn;
  shown = viewOf(to);
}

export function currentState(): UrlState {
  return decodeState(window.location.search);
}

/** The current URL state; re-renders on navigate() and on back/forward. */
export function useUrlState(): UrlState {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((tick) => tick + 1);
    if (!shown) shown = viewOf(currentState());
    const popped = () => {
      const now = currentState();
      if (shown && shown !== viewOf(now)) delete document.documentElement.dataset.drawn;
      shown = viewOf(now);
      update();
    };
    listeners.add(update);
    window.addEventListener("popstate", popped);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", popped);
    };
  }, []);
  return currentState();
}
