/** A random RFC 4122 version 4 UUID from `crypto` (crypto.randomUUID needs https; this does not). */
export function uuid(crypto) {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 15) | 64;
  bytes[8] = (bytes[8] & 63) | 128;
  let text = "";
  for (let i = 0; i < 16; i++) {
    text += (i === 4 || i === 6 || i === 8 || i === 10 ? "-" : "") + (bytes[i] + 256).toString(16).slice(1);
  }
  return text;
}
