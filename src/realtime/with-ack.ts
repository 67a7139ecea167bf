import { type ErrorBody, invalid, storageUnavailable, toErrorBody } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import { isRedisUnavailable } from "../store/outages.js";
import type { ChatSocket } from "./context.js";
import type { Ack, ClientToServerEvents } from "./events.js";

/**
 * An event listener shared by every socket of a worker. socket.io sockets are EventEmitters, which
 * call a listener with the socket as `this`: one function per event and worker, instead of a closure
 * (and its context) per event and socket, which every idle connection would carry (B4).
 */
export type SocketListener = (this: ChatSocket, payload?: unknown, ack?: unknown) => void;

export type Listeners = { [E in keyof ClientToServerEvents]?: SocketListener };

/**
 * State a shared listener keeps per socket, made on first use (most sockets never need it) and
 * gone with the socket.
 */
export function perSocket<T>(make: () => T): (socket: ChatSocket) => T {
  const states = new WeakMap<ChatSocket, T>();
  return (socket) => {
    let state = states.get(socket);
    if (state === undefined) {
      state = make();
      states.set(socket, state);
    }
    return state;
  };
}

/**
 * Answers an acknowledged event: `handle` gets nothing from the payload the caller did not check,
 * and its result or error becomes the one envelope of the protocol. Only AppErrors reach the
 * client, and a Redis outage as E_UNAVAILABLE; nothing thrown ever reaches socket.io.
 */
export async function answer<T>(log: Logger, event: string, ack: unknown, handle: () => Promise<T>): Promise<void> {
  if (typeof ack !== "function") {
    log.debug({ event }, "event without an ack ignored");
    return;
  }
  const reply = ack as (r: Ack<T>) => void;
  try {
    reply({ ok: true, data: await handle() });
  } catch (err) {
    reply({ ok: false, error: failureOf(log, event, err) });
  }
}

/** The envelope's error: an outage asks the client to retry, and only a bug is logged as one. */
function failureOf(log: Logger, event: string, err: unknown): ErrorBody {
  if (isRedisUnavailable(err)) {
    // The Redis client logs the outage itself (store/redis.ts); a line per refused event would
    // flood the log while it lasts.
    log.debug({ err: (err as Error).message, event }, "event refused: storage unavailable");
    return storageUnavailable().toBody();
  }
  const error = toErrorBody(err);
  if (error.code === "E_INTERNAL") log.error({ err, event }, "socket handler failed");
  return error;
}

/** The shared listener of an acknowledged event: `handle` gets the socket and the raw (untrusted) payload. */
export function acked<T>(log: Logger, event: string, handle: (socket: ChatSocket, payload: unknown) => Promise<T>): SocketListener {
  return function (payload, ack) {
    void answer(log, event, ack, () => handle(this, payload));
  };
}

/** Reads an object payload; anything else (a string, an array, null) is E_INVALID. */
export function objectPayload(payload: unknown): Record<string, unknown> {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw invalid("payload must be an object");
  }
  return payload as Record<string, unknown>;
}
