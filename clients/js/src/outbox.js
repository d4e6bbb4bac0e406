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
      save(load().filter((hit) => ids.indexOf(hit.hit_id) < 0));
    },
    clear() {
      save([]);
    },
  };
}
