import assert from "node:assert/strict";
import { test } from "node:test";
import { createOutbox } from "../src/outbox.js";
import { MemoryStorage } from "./fake-window.js";

const hit = (id) => ({ hit_id: id, event: "view" });

test("waiting hits survive into the next page's outbox", () => {
  const storage = new MemoryStorage();
  createOutbox(storage, "q", 10).add([hit("a"), hit("b")]);
  assert.deepEqual(createOutbox(storage, "q", 10).all().map((h) => h.hit_id), ["a", "b"]);
});

test("the outbox is bounded: the oldest hits go first", () => {
  const outbox = createOutbox(new MemoryStorage(), "q", 3);
  for (const id of ["a", "b", "c", "d", "e"]) outbox.add([hit(id)]);
  assert.deepEqual(outbox.all().map((h) => h.hit_id), ["c", "d", "e"]);
});

test("confirmed hits are removed by hit_id and an empty outbox leaves no key behind", () => {
  const storage = new MemoryStorage();
  const outbox = createOutbox(storage, "q", 10);
  outbox.add([hit("a"), hit("b"), hit("c")]);
  outbox.remove(["a", "c"]);
  assert.deepEqual(outbox.all().map((h) => h.hit_id), ["b"]);
  outbox.remove(["b"]);
  assert.equal(storage.getItem("q"), null);
});

test("corrupt stored data reads as empty instead of breaking the page", () => {
  const storage = new MemoryStorage();
  storage.setItem("q", "{not json");
  assert.deepEqual(createOutbox(storage, "q", 10).all(), []);
  storage.setItem("q", '{"an":"object"}');
  assert.deepEqual(createOutbox(storage, "q", 10).all(), []);
});

test("a full or refusing localStorage falls back to memory for the page", () => {
  const storage = new MemoryStorage();
  storage.setItem = () => {
    throw new Error("QuotaExceededError");
  };
  const outbox = createOutbox(storage, "q", 10);
  outbox.add([hit("a")]);
  outbox.add([hit("b")]);
  assert.deepEqual(outbox.all().map((h) => h.hit_id), ["a", "b"]);
  const noStorage = createOutbox(null, "q", 10);
  noStorage.add([hit("c")]);
  assert.deepEqual(noStorage.all().map((h) => h.hit_id), ["c"]);
});
