/**
 * glibc's malloc gives every thread that allocates (V8's GC and compiler helpers, libuv's pool) an
 * arena of its own, and keeps the memory freed in each. A worker is one JavaScript thread holding
 * thousands of small long-lived connections: with one arena and a fixed trim threshold, an idle
 * connection costs 1.2–1.7 KB less RSS (B4, 14.8 → 13.1–13.6 KB) and the CPU per message did not
 * move (B2). Other C libraries ignore these variables.
 */
export const MALLOC_TUNING: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "1",
  MALLOC_TRIM_THRESHOLD_: "131072",
};

/**
 * What a worker gets on top of the primary's environment (cluster.fork merges the two): the
 * malloc tuning, except what the operator set, and `extra`.
 */
export function workerEnv(extra: Record<string, string>, inherited: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(MALLOC_TUNING)) if (inherited[name] === undefined) env[name] = value;
  return { ...env, ...extra };
}
