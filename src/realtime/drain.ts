import { setTimeout as sleep } from "node:timers/promises";

/** What a draining worker closes: a socket's transport (its client reconnects by itself). */
export interface Closable {
  close(): void;
}

export interface DrainPace {
  /** When the last socket must be closed at the latest, whatever the backlog. */
  budgetMs: number;
  /**
   * Connections the host's primary holds for the workers that take the clients over (0 when
   * unknown, e.g. on SIGTERM, when the clients go to other hosts).
   */
  backlog(): number;
}

/**
 * How fast a draining worker sends its clients away at most. Each one reconnects within a second
 * and costs the worker that takes it a handshake, so sending them all at once leaves the last
 * waiting past their 8 s handshake timeout (B5; the measured rates are in docs/decisions.md).
 */
const DRAIN_PER_SECOND = 750;
const DRAIN_SLICE_MS = 50;
/**
 * The primary's backlog at which the drain stops: on a slow host the new workers take fewer than
 * DRAIN_PER_SECOND handshakes a second, and clients queued behind a long backlog miss their
 * handshake timeout. The drain slows in proportion as the backlog approaches this, so it settles
 * at what the new workers absorb.
 */
const BACKLOG_LIMIT = 100;

/**
 * Closes the sockets a slice at a time, at up to DRAIN_PER_SECOND, slower while the workers that
 * take them over fall behind, and the rest at once when the budget is spent.
 */
export async function closeGradually(sockets: readonly Closable[], pace: DrainPace): Promise<void> {
  const deadline = Date.now() + pace.budgetMs;
  const fullSlice = (DRAIN_PER_SECOND * DRAIN_SLICE_MS) / 1000;
  let next = 0;
  let allowance = 0;
  while (next < sockets.length) {
    if (Date.now() >= deadline) allowance = sockets.length;
    else allowance += fullSlice * Math.max(0, 1 - pace.backlog() / BACKLOG_LIMIT);
    const end = Math.min(sockets.length, next + Math.floor(allowance));
    allowance -= end - next;
    for (; next < end; next++) sockets[next]?.close();
    if (next < sockets.length) await sleep(DRAIN_SLICE_MS);
  }
}
