// Builds dist/: app.<hash>.js and app.<hash>.css (minified, tree-shaken) and manifest.json,
// which names them for the server (metronome/web/views/app.py). `--test` instead bundles each
// test/*.test.ts into build-test/ for `node --test`.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { build } from "esbuild";

const common = { bundle: true, target: ["es2020"], legalComments: "none", logLevel: "warning", jsx: "automatic", jsxImportSource: "preact" };

if (process.argv.includes("--test")) {
  rmSync("build-test", { recursive: true, force: true });
  const entries = readdirSync("test").filter((name) => name.endsWith(".test.ts")).map((name) => join("test", name));
  await build({ ...common, entryPoints: entries, outdir: "build-test", format: "esm", platform: "node", outExtension: { ".js": ".mjs" } });
} else {
  rmSync("dist", { recursive: true, force: true });
  mkdirSync("dist", { recursive: true });
  const result = await build({
    ...common,
    entryPoints: { app: "src/main.tsx" },
    outdir: "dist",
    entryNames: "[name].[hash]",
    format: "esm",
    minify: true,
    metafile: true,
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const manifest = {};
  for (const output of Object.keys(result.metafile.outputs)) {
    const name = basename(output);
    if (name.endsWith(".js")) manifest.js = name;
    if (name.endsWith(".css")) manifest.css = name;
  }
  writeFileSync("dist/manifest.json", JSON.stringify(manifest) + "\n");
  console.log(JSON.stringify(manifest));
}
