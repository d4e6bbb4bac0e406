// How a send turned out, and when to try again. Pure functions of the server's answer.

/**
 * Whether a batch must be sent again after the server answered `status` (0: no answer).
 * Yes when the server could not take it now (5xx, 408, 429, network error); no when it was
 * stored (2xx) or refused for good (other 4xx: sending it again would not change that).
 */
export function mustRetry(status) {
  return !(status >= 200 && status < 300) && !(status >= 400 && status < 500 && status !== 408 && status !== 429);
}

/**
 * Milliseconds to wait before retry number `attempt` (1, 2, ...): the server's Retry-After
 * when it gave one, else exponential from `base` up to `max`, with jitter so that many
 * browsers coming back online do not retry in step.
 */
export function retryDelay(attempt, retryAfter, base, max, random) {
  const seconds = Number(retryAfter);
  if (retryAfter && seconds >= 0) return Math.min(seconds * 1000, max);
  const ceiling = Math.min(max, base * Math.pow(2, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Splits hits into batches of at most `count` hits and about `bytes` of JSON each. */
export function batches(hits, count, bytes) {
  const out = [];
  let current = [];
  let size = 2;
  for (let i = 0; i < hits.length; i++) {
    const length = JSON.stringify(hits[i]).length + 1;
    if (current.length && (current.length >= count || size + length > bytes)) {
      out.push(current);
      current = [];
      size = 2;
    }
    current.push(hits[i]);
    size += length;
  }
  if (current.length) out.push(current);
  return out;
}
