/**
 * One clock for every process of a run. CLOCK_MONOTONIC (process.hrtime) is shared by all
 * processes of a host, so a timestamp taken in one load-generator process can be subtracted in
 * another: latency needs no clock sync.
 */
import { performance } from "node:perf_hooks";

/** Offset that turns performance.now() (cheap) into hrtime µs (comparable across processes). */
const BASE_US = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;

/** Monotonic microseconds, comparable between processes on this host. */
export function nowUs(): number {
  return BASE_US + performance.now() * 1000;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves when nowUs() reaches `atUs` (a few ms late at worst). */
export async function sleepUntil(atUs: number): Promise<void> {
  const waitMs = (atUs - nowUs()) / 1000;
  if (waitMs > 0) await sleep(waitMs);
}

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns the outcome. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** A progress line on stdout, stamped with the UTC time of day. */
export function logLine(line: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}
