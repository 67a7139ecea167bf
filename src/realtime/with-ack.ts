import { type ErrorBody, invalid, toErrorBody } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { Ack } from "./events.js";

/**
 * Wraps an acknowledged event: the handler gets the raw payload (never trusted) and its result or
 * error becomes the one envelope of the protocol. Only AppErrors reach the client; nothing thrown
 * ever reaches socket.io.
 */
export function withAck<T>(
  log: Logger,
  event: string,
  handle: (payload: unknown) => Promise<T>,
): (payload: unknown, ack?: unknown) => Promise<void> {
  return async (payload, ack) => {
    if (typeof ack !== "function") {
      log.debug({ event }, "event without an ack ignored");
      return;
    }
    const reply = ack as (r: Ack<T>) => void;
    try {
      reply({ ok: true, data: await handle(payload) });
    } catch (err) {
      const error: ErrorBody = toErrorBody(err);
      if (error.code === "E_INTERNAL") log.error({ err, event }, "socket handler failed");
      reply({ ok: false, error });
    }
  };
}

/** Reads an object payload; anything else (a string, an array, null) is E_INVALID. */
export function objectPayload(payload: unknown): Record<string, unknown> {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw invalid("payload must be an object");
  }
  return payload as Record<string, unknown>;
}
