import { createRequire } from "node:module";
import { constants, PerformanceObserver, performance } from "node:perf_hooks";
import type { Logger } from "../lib/logger.js";

/**
 * The primary accepts every connection and holds it until a worker has taken it. In a storm
 * (10,000 connections at 1,000 a second, B4; a worker's clients reconnecting at once, B5) glibc's
 * heap grows with the connections in flight, and once they are handed over it keeps the freed
 * memory: about 11 MB at 10,000 connections, in holes between chunks that are still in use, so
 * about 1 KB of resident memory per connection ever handed over. glibc gives back the top of its
 * heap by itself, but holes only on `malloc_trim` (9.4 MB of the primary's 66 MB, measured), which
 * Node does not call: the primary calls it through koffi, a foreign-function interface with
 * prebuilt binaries.
 *
 * It trims after connections were handed over: once hand-offs have stopped for a while, and after
 * a full collection (which frees the native memory of the sockets handed over) while they are
 * stopped. A trim takes a few milliseconds; during a storm none runs.
 */

/** How long hand-offs must have stopped before the primary trims. */
const QUIET_MS = 5000;

type MallocTrim = (pad: number) => number;

/** glibc's `malloc_trim`, or undefined where there is none (another libc, another OS). */
function loadMallocTrim(log: Logger): MallocTrim | undefined {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  if (!header?.glibcVersionRuntime) return undefined;
  try {
    const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
    return koffi.load("libc.so.6").func("int malloc_trim(size_t pad)") as MallocTrim;
  } catch (err) {
    log.warn({ err: (err as Error).message }, "malloc_trim is not available; the primary keeps glibc's freed memory");
    return undefined;
  }
}

/**
 * Trims the primary's malloc heap after hand-offs (`handedOff` counts them). Returns a stop
 * function; does nothing where glibc's `malloc_trim` cannot be called.
 */
export function trimAfterHandOffs(handedOff: () => number, log: Logger, quietMs = QUIET_MS): () => void {
  const trim = loadMallocTrim(log);
  if (!trim) return () => undefined;
  const run = (why: "quiet" | "gc"): void => {
    const started = performance.now();
    const released = trim(0) === 1;
    log.debug({ why, ms: Math.round((performance.now() - started) * 10) / 10, released }, "malloc_trim");
  };

  let seen = handedOff();
  let trimmedWhenQuiet = seen;
  let trimmedAfterGc = seen;
  const quiet = setInterval(() => {
    const count = handedOff();
    if (count === seen && count !== trimmedWhenQuiet) {
      trimmedWhenQuiet = count;
      run("quiet");
    }
    seen = count;
  }, quietMs).unref();

  const collections = new PerformanceObserver((list) => {
    const full = list
      .getEntries()
      .some((entry) => (entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
    const count = handedOff();
    if (full && count === seen && count !== trimmedAfterGc) {
      trimmedAfterGc = count;
      run("gc");
    }
  });
  collections.observe({ entryTypes: ["gc"] });

  return () => {
    clearInterval(quiet);
    collections.disconnect();
  };
}
