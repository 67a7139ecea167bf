/**
 * The primary gives glibc's freed memory back once hand-offs have stopped, and after a full
 * collection, and not while nothing was handed over. Measured on this process's own RSS: freed
 * malloc memory held in holes between live chunks is resident until something trims it.
 */
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pino } from "pino";
import t from "tap";
import { trimAfterHandOffs } from "../../src/primary/malloc-trim.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MB = 1024 * 1024;

/** Leaves about 36 MB free in glibc's heap, in holes between the 1 in 10 buffers still alive. */
function fragment(): Buffer[] {
  const all = Array.from({ length: 20_000 }, () => Buffer.allocUnsafeSlow(2048).fill(1));
  const kept = all.filter((_, i) => i % 10 === 0);
  all.length = 0;
  gc();
  return kept;
}

/** The debug lines the module logs, as parsed objects. */
function capturingLogger(): { log: pino.Logger; lines: { why?: string; msg?: string }[] } {
  const lines: { why?: string; msg?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { why?: string });
      done();
    },
  });
  return { log: pino({ level: "debug" }, sink), lines };
}

t.test("trims after hand-offs stop and after a full collection, not before any", async (t) => {
  const { log, lines } = capturingLogger();
  let handedOff = 0;
  const stop = trimAfterHandOffs(() => handedOff, log, 100);
  t.teardown(stop);
  const trims = () => lines.filter((line) => line.msg === "malloc_trim").map((line) => line.why);

  const kept = [fragment()];
  await sleep(400);
  t.same(trims(), [], "no trim while nothing was handed over");
  const untrimmed = process.memoryUsage.rss();

  handedOff += 1000;
  await sleep(400);
  t.same(trims(), ["quiet"], "one trim once hand-offs have stopped");
  const quietDrop = untrimmed - process.memoryUsage.rss();
  t.ok(quietDrop > 16 * MB, `it gave back ${Math.round(quietDrop / MB)} MB`);

  kept.push(fragment());
  await sleep(50); // GC entries reach observers asynchronously
  t.same(trims(), ["quiet", "gc"], "another after the full collection that freed more");
  await sleep(400);
  t.same(trims(), ["quiet", "gc"], "and none again until more is handed over");
  t.equal(kept.length, 2, "the buffers kept alive stayed alive throughout");
});
