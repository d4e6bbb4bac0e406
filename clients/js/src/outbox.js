// The outbox: hits waiting for the server's confirmation, kept in localStorage so they
// survive a closed tab, a crash or an offline spell, and bounded so they never fill it.

/**
 * @param storage  a Storage (localStorage) or null when the browser refuses one
 * @param key      the storage key
 * @param limit    the most hits kept; the oldest are dropped first
 */
export function createOutbox(storage, key, limit) {
  let memory = [];

  function load() {
    if (!storage) return memory;
    try {
      const parsed = JSON.parse(storage.getItem(key) || "[]");
      return Array.isArray(parsed) ? parsed : [];
    } catch (_) {
      return [];
    }
  }

  function save(hits) {
    memory = hits;
    if (!storage) return;
    try {
      if (hits.length) storage.setItem(key, JSON.stringify(hits));
      else storage.removeItem(key);
    } catch (_) {
      // Quota exceeded or storage disabled: keep the hits in memory for this page.
      storage = null;
    }
  }

  return {
    /** Every waiting hit, oldest first. */
    all: load,
    /** Adds hits; beyond the limit the oldest are dropped. */
    add(hits) {
      save(load().concat(hits).slice(-limit));
    },
    /** Removes the hits with these hit_ids (confirmed or refused by the server). */
    remove(ids) {
      const gone = {};
      for (let i = 0; i < ids.length; i++) gone[ids[i]] = 1;
      save(load().filter((hit) => !gone[hit.hit_id]));
    },
    clear() {
      save([]);
    },
  };
}
