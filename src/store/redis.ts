import {
  AbortError,
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  DisconnectsClientError,
  type RedisClientType,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from "redis";
import { AppError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";

export type Redis = RedisClientType;

export interface RedisOptions {
  url: string;
  name: string;
  log: Logger;
  /**
   * Fail commands at once while disconnected instead of queueing them: a chat send must answer
   * E_UNAVAILABLE quickly so the client retries, never hang until some timeout.
   */
  failFast?: boolean;
}

/** Creates and connects a node-redis client that has an error listener (else an error kills the process). */
export async function connectRedis({ url, name, log, failFast = true }: RedisOptions): Promise<Redis> {
  const client: Redis = createClient({
    url,
    name,
    disableOfflineQueue: failFast,
    socket: {
      connectTimeout: 5000,
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100),
    },
  });
  let down = false;
  client.on("error", (err: Error) => {
    if (!down) log.warn({ client: name, err: err.message }, "redis connection error");
    down = true;
  });
  client.on("ready", () => {
    if (down) log.info({ client: name }, "redis connection restored");
    down = false;
  });
  await client.connect();
  return client;
}

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
 * Closes a client: gracefully (pending replies arrive) when connected. A client reconnecting to a
 * Redis that is down is only told to stop: awaiting its close() would wait for replies that never
 * come, and destroy() rejects node-redis's own queued handshake commands, which nobody handles.
 */
export async function closeRedis(client: Redis, timeoutMs = 2000): Promise<void> {
  if (!client.isOpen) return;
  if (!client.isReady) {
    client.close().catch(() => undefined);
    return;
  }
  const closed = client.close().then(
    () => true,
    () => false,
  );
  const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  if (!(await Promise.race([closed, timer])) && client.isOpen) client.destroy();
}

/** Whether an error means "Redis is not reachable right now" (as opposed to a bug). */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (OUTAGES.some((type) => err instanceof type)) return true;
  // Replies of a Redis that is up but cannot serve yet (loading its AOF, a replica mid-failover).
  return /^(LOADING|READONLY|MASTERDOWN|BUSY)\b|ECONNREFUSED|ECONNRESET|EPIPE/.test(err.message);
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
