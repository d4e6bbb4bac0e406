// Prints the size of the built <script> file and fails when gzip puts it over the budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

// 3 KiB, plus 128 bytes for stripping tokens from URLs before they leave the page (cleanUrl).
const BUDGET_GZIP_BYTES = 3200;
const source = readFileSync("dist/metronome.js");
const gzip = gzipSync(source, { level: 9 }).length;
console.log(JSON.stringify({ file: "dist/metronome.js", minified_bytes: source.length, gzip_bytes: gzip, budget_gzip_bytes: BUDGET_GZIP_BYTES }));
if (gzip > BUDGET_GZIP_BYTES) {
  console.error(`dist/metronome.js is ${gzip} bytes gzipped, over the ${BUDGET_GZIP_BYTES}-byte budget`);
  process.exit(1);
}
