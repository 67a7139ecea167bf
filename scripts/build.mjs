// Builds the server (tsc → dist/) and the browser bundle (esbuild → static/js/).
// `--if-stale` skips the work when nothing in src/, bench/ or the configs changed since the last build,
// so `npm start` and `npm test` build on a fresh clone and start at once afterwards.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const STAMP = "dist/.build-stamp";
const SOURCES = ["src", "bench", "package.json", "tsconfig.json", "tsconfig.build.json"];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newestMtime(join(path, name))), stat.mtimeMs);
}

const stale = !existsSync(STAMP) || !existsSync("static/js") || Math.max(...SOURCES.map(newestMtime)) > statSync(STAMP).mtimeMs;
if (process.argv.includes("--if-stale") && !stale) process.exit(0);

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
await build({
  entryPoints: { chat: "src/client/chat.ts" },
  outdir: "static/js",
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
writeFileSync(STAMP, new Date().toISOString());
console.log("built dist/ and static/js/");
