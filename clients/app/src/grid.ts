// The 12-column grid: widgets in reading order, packed without overlaps; moves and resizes
// keep that order. Pure functions over layouts.
import type { Layout } from "./types";

export const COLUMNS = 12;
export const MAX_HEIGHT = 12;

export interface Placed { layout: Layout }

const clampLayout = (layout: Layout): Layout => {
  const w = Math.min(COLUMNS, Math.max(1, Math.round(layout.w || 1)));
  const h = Math.min(MAX_HEIGHT, Math.max(1, Math.round(layout.h || 1)));
  const x = Math.min(COLUMNS - w, Math.max(0, Math.round(layout.x || 0)));
  const y = Math.max(0, Math.round(layout.y || 0));
  return { x, y, w, h };
};

/** Reading order: top to bottom, then left to right (stable for ties). */
export function readingOrder<T extends Placed>(items: T[]): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => a.item.layout.y - b.item.layout.y || a.item.layout.x - b.item.layout.x || a.i - b.i)
    .map(({ item }) => item);
}

function overlaps(a: Layout, b: Layout): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** True when every layout lies inside the grid and none overlaps another. */
export function isValidLayout(layouts: Layout[]): boolean {
  for (let i = 0; i < layouts.length; i++) {
    const a = layouts[i];
    if (a.w < 1 || a.h < 1 || a.x < 0 || a.y < 0 || a.x + a.w > COLUMNS) return false;
    for (let j = i + 1; j < layouts.length; j++) if (overlaps(a, layouts[j])) return false;
  }
  return true;
}

/**
 * Places the items, in the given order, each at the first free spot (row by row) that is not
 * before the previous item's spot: the order is kept and holes are filled.
 */
export function pack<T extends Placed>(items: T[]): T[] {
  const taken: Layout[] = [];
  let cursorY = 0;
  let cursorX = 0;
  return items.map((item) => {
    const { w, h } = clampLayout(item.layout);
    for (let y = cursorY; ; y++) {
      for (let x = y === cursorY ? cursorX : 0; x + w <= COLUMNS; x++) {
        const spot = { x, y, w, h };
        if (!taken.some((other) => overlaps(spot, other))) {
          taken.push(spot);
          cursorY = y;
          cursorX = x + w;
          return { ...item, layout: spot };
        }
      }
    }
  });
}

/** The stored layout when it is valid, else the items packed in reading order. */
export function resolveLayout<T extends Placed>(items: T[]): T[] {
  const clamped = items.map((item) => ({ ...item, layout: clampLayout(item.layout) }));
  if (isValidLayout(clamped.map((item) => item.layout))) return clamped;
  return pack(readingOrder(clamped));
}

/** Moves the item at `index` (in reading order) by `delta` places and packs again. */
export function moveItem<T extends Placed>(items: T[], index: number, delta: number): T[] {
  const ordered = readingOrder(items);
  const target = Math.max(0, Math.min(ordered.length - 1, index + delta));
  if (target === index) return items;
  const copy = ordered.slice();
  const [moved] = copy.splice(index, 1);
  copy.splice(target, 0, moved);
  return pack(copy);
}

/** Changes the width or height of the item at `index` (in reading order) and packs again. */
export function resizeItem<T extends Placed>(items: T[], index: number, change: { w?: number; h?: number }): T[] {
  const ordered = readingOrder(items);
  return pack(
    ordered.map((item, i) =>
      i === index
        ? { ...item, layout: clampLayout({ ...item.layout, w: item.layout.w + (change.w ?? 0), h: item.layout.h + (change.h ?? 0) }) }
        : item,
    ),
  );
}

/** Inserts `item` right after the item at `index` (reading order) and packs again. */
export function insertAfter<T extends Placed>(items: T[], index: number, item: T): T[] {
  const ordered = readingOrder(items);
  const copy = ordered.slice();
  copy.splice(index + 1, 0, item);
  return pack(copy);
}

/** Removes the item at `index` (reading order) and packs again. */
export function removeItem<T extends Placed>(items: T[], index: number): T[] {
  return pack(readingOrder(items).filter((_, i) => i !== index));
}

/** The height of the grid in rows. */
export function gridRows(items: Placed[]): number {
  return items.reduce((rows, item) => Math.max(rows, item.layout.y + item.layout.h), 0);
}

/**
 * The grid cut into bands for a paged report: a band is a run of rows that no widget crosses,
 * so a page may end between bands without cutting a widget. Each band's items keep their
 * columns and get rows counted from the band's first one. Items in reading order.
 */
export function bands<T extends Placed>(items: T[]): T[][] {
  const result: T[][] = [];
  let current: T[] = [];
  let top = 0;
  let bottom = 0;
  for (const item of readingOrder(resolveLayout(items))) {
    if (current.length && item.layout.y >= bottom) {
      result.push(current);
      current = [];
    }
    if (!current.length) top = item.layout.y;
    bottom = Math.max(current.length ? bottom : 0, item.layout.y + item.layout.h);
    current.push({ ...item, layout: { ...item.layout, y: item.layout.y - top } });
  }
  if (current.length) result.push(current);
  return result;
}
