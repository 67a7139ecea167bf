/**
 * The primary keeps its young generation small (src/primary/heap.ts): under a churn of objects that
 * survive a few scavenges, as a connect storm's sockets do, V8 would grow it to 32 MB. Each case
 * runs in a fresh node (with the built module), whose young generation has not grown yet.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import t from "tap";
import { PROJECT_ROOT } from "../../src/lib/paths.js";

const MB = 1024 * 1024;
const HEAP_MODULE = pathToFileURL(join(PROJECT_ROOT, "dist/src/primary/heap.js")).href;

/** 2 M objects, 20,000 of them alive at a time; prints the largest young generation seen. */
const CHURN = `
const newSpace = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === "new_space").space_size;
const live = new Array(20_000);
let largest = newSpace();
for (let i = 0; i < 2_000_000; i++) {
  live[i % live.length] = { i, text: "x" + i, pair: [i, i] };
  if (i % 10_000 === 0) largest = Math.max(largest, newSpace());
}
console.log(largest);`;

function largestYoungGeneration(setUp: string): number {
  const script = `import v8 from "node:v8";\n${setUp}\n${CHURN}`;
  // A clean environment: tap's loaders and coverage (NODE_OPTIONS) would allocate before the set-up.
  const env = { PATH: process.env.PATH };
  return Number(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env }));
}

t.test("primary heap > V8 on its own grows the young generation under this churn", async (t) => {
  const largest = largestYoungGeneration("");
  t.ok(largest > 8 * MB, `grew to ${largest / MB} MB`);
});

t.test("primary heap > keepYoungGenerationSmall keeps it small", async (t) => {
  const largest = largestYoungGeneration(`(await import(${JSON.stringify(HEAP_MODULE)})).keepYoungGenerationSmall();`);
  // 1 MB at start; V8 still grows it a step or two (2–4 MB seen), not towards 32 MB.
  t.ok(largest <= 8 * MB, `stayed at ${largest / MB} MB`);
});
