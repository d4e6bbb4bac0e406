import assert from "node:assert/strict";
import { test } from "node:test";
import { bands, isValidLayout, moveItem, pack, readingOrder, removeItem, resizeItem, resolveLayout } from "../src/grid";

const item = (id: string, x: number, y: number, w: number, h: number) => ({ id, layout: { x, y, w, h } });
const ids = (items: { id: string }[]) => items.map((i) => i.id);

test("a valid stored layout is kept as it is", () => {
  const items = [item("a", 0, 0, 4, 2), item("b", 4, 0, 8, 2), item("c", 0, 2, 12, 4)];
  assert.deepEqual(resolveLayout(items), items);
});

test("overlapping or out-of-grid layouts are packed in reading order", () => {
  const items = [item("a", 0, 0, 8, 2), item("b", 4, 0, 8, 2), item("c", 10, 5, 6, 1)];
  const resolved = resolveLayout(items);
  assert.ok(isValidLayout(resolved.map((i) => i.layout)));
  assert.deepEqual(ids(readingOrder(resolved)), ["a", "b", "c"]);
});

test("packing fills a row before starting the next and keeps the order", () => {
  const packed = pack([item("a", 0, 0, 4, 1), item("b", 0, 0, 4, 1), item("c", 0, 0, 6, 1), item("d", 0, 0, 2, 1)]);
  assert.deepEqual(packed.map((i) => [i.id, i.layout.x, i.layout.y]), [["a", 0, 0], ["b", 4, 0], ["c", 0, 1], ["d", 6, 1]]);
});

test("moving up and down changes the reading order", () => {
  const items = [item("a", 0, 0, 6, 2), item("b", 6, 0, 6, 2), item("c", 0, 2, 12, 2)];
  assert.deepEqual(ids(readingOrder(moveItem(items, 2, -1))), ["a", "c", "b"]);
  assert.deepEqual(ids(readingOrder(moveItem(items, 0, 1))), ["b", "a", "c"]);
  assert.equal(moveItem(items, 0, -1), items);
});

test("resizing is clamped to the grid and reflows the rest", () => {
  const items = [item("a", 0, 0, 6, 2), item("b", 6, 0, 6, 2)];
  const wider = resizeItem(items, 0, { w: 20 });
  assert.deepEqual(wider.map((i) => i.layout), [{ x: 0, y: 0, w: 12, h: 2 }, { x: 0, y: 2, w: 6, h: 2 }]);
  const shorter = resizeItem(items, 1, { h: -5 });
  assert.equal(shorter[1].layout.h, 1);
  assert.deepEqual(ids(removeItem(items, 0)), ["b"]);
  assert.deepEqual(removeItem(items, 0)[0].layout, { x: 0, y: 0, w: 6, h: 2 });
});

test("a report's bands end where no widget crosses, rows counted from each band's top", () => {
  const items = [item("a", 0, 0, 6, 2), item("b", 6, 0, 6, 3), item("c", 0, 2, 6, 2), item("d", 0, 5, 12, 4), item("e", 0, 9, 4, 1)];
  const cut = bands(items);
  assert.deepEqual(cut.map(ids), [["a", "b", "c"], ["d"], ["e"]]);
  assert.deepEqual(cut[0].map((i) => i.layout.y), [0, 0, 2]);
  assert.deepEqual(cut[1][0].layout, { x: 0, y: 0, w: 12, h: 4 });
  assert.deepEqual(bands([]), []);
});
