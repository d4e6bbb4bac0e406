// Builds dist/: metronome.js (minified IIFE for <script>), metronome.mjs (ES module),
// index.d.ts (types). Run with `npm run build`.
import { copyFileSync, mkdirSync } from "node:fs";
import { build } from "esbuild";

const common = { bundle: true, target: ["es2017"], legalComments: "none", logLevel: "warning" };
mkdirSync("dist", { recursive: true });
await build({ ...common, entryPoints: ["src/script.js"], outfile: "dist/metronome.js", format: "iife", minify: true });
await build({ ...common, entryPoints: ["src/index.js"], outfile: "dist/metronome.mjs", format: "esm" });
copyFileSync("types/index.d.ts", "dist/index.d.ts");
