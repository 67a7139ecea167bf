/**
 * Where things are. The harness runs compiled (dist/bench/...) from `npm run bench` and as
 * TypeScript from the smoke test; child processes are always the compiled files, so both find
 * the same programs.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && existsSync(join(dir, "bench"))) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name) return dir;
      } catch {
        // keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the repository root from the bench harness");
    dir = parent;
  }
}

export const ROOT = findRoot();
export const PATHS = {
  root: ROOT,
  /** The project's server: `node scripts/build.mjs` puts it here. */
  server: join(ROOT, "dist/src/main.js"),
  reference: join(ROOT, "dist/bench/reference/main.js"),
  agent: join(ROOT, "dist/bench/loadgen/agent.js"),
  results: join(ROOT, "bench/results"),
  docs: join(ROOT, "docs/performance.md"),
} as const;
