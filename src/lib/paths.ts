import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project folder (holding package.json), whether running from src/ under a loader or from dist/. */
function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const TEMPLATES_DIR = join(PROJECT_ROOT, "templates");
export const STATIC_DIR = join(PROJECT_ROOT, "static");
