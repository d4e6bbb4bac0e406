// Prints the gzipped size of the built app (JS + CSS) and fails over the budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET_GZIP_BYTES = 200 * 1024;
const manifest = JSON.parse(readFileSync("dist/manifest.json", "utf8"));
const files = [manifest.js, manifest.css].filter(Boolean);
const sizes = files.map((name) => {
  const body = readFileSync(`dist/${name}`);
  return { file: `dist/${name}`, minified_bytes: body.length, gzip_bytes: gzipSync(body, { level: 9 }).length };
});
const total = sizes.reduce((sum, entry) => sum + entry.gzip_bytes, 0);
console.log(JSON.stringify({ files: sizes, total_gzip_bytes: total, budget_gzip_bytes: BUDGET_GZIP_BYTES }));
if (total > BUDGET_GZIP_BYTES) {
  console.error(`the app is ${total} bytes gzipped, over the ${BUDGET_GZIP_BYTES}-byte budget`);
  process.exit(1);
}
