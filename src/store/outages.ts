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

/**
 * Whether an error means "Redis is not reachable right now" (as opposed to a bug). Stores let the
 * Redis client's errors through as they are; the edges that answer clients (the ack envelope, the
 * HTTP error handler, the socket handshake) ask this to turn an outage into E_UNAVAILABLE.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (OUTAGES.some((type) => err instanceof type)) return true;
  // Replies of a Redis that is up but cannot serve yet (loading its AOF, a replica mid-failover).
  // On a Redis Cluster also the replies of a shard that has no master yet (CLUSTERDOWN) or whose
  // keys are moving (TRYAGAIN).
  return /^(LOADING|READONLY|MASTERDOWN|BUSY|CLUSTERDOWN|TRYAGAIN)\b|ECONNREFUSED|ECONNRESET|EPIPE/.test(err.message);
}
