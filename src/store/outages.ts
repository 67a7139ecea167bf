import {
  AbortError,
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from "@redis/client";
import { AppError } from "../lib/errors.js";

const OUTAGES = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  DisconnectsClientError,
  AbortError,
];

/** Whether an error means "Redis is not reachable right now" (as opposed to a bug). */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (OUTAGES.some((type) => err instanceof type)) return true;
  // Replies of a Redis that is up but cannot serve yet (loading its AOF, a replica mid-failover).
  // On a Redis Cluster also the replies of a shard that has no master yet (CLUSTERDOWN) or whose
  // keys are moving (TRYAGAIN).
  return /^(LOADING|READONLY|MASTERDOWN|BUSY|CLUSTERDOWN|TRYAGAIN)\b|ECONNREFUSED|ECONNRESET|EPIPE/.test(err.message);
}

/** Maps Redis outages to E_UNAVAILABLE (the client should retry); anything else is re-thrown. */
export function unavailableOr(err: unknown): never {
  if (isRedisUnavailable(err)) throw new AppError("E_UNAVAILABLE", "storage is unavailable, retry shortly");
  throw err;
}

/** Runs a Redis operation, turning an outage into E_UNAVAILABLE. */
export async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    return unavailableOr(err);
  }
}
