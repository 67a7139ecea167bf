import type { Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";

/**
 * The messages between the primary and its workers over node:cluster's IPC channel (serialization
 * "advanced", so Buffers arrive as Buffers). Other parties share the channel (the cluster adapter,
 * the metrics gathering): every receiver checks a message with the guards below and ignores the rest.
 */

/** What a worker tells the primary. */
export type WorkerMessage =
  /** It can take connections (the primary routes none to it before). */
  | { type: "worker:ready"; instance: string }
  /** It has sent every client away while stopping. */
  | { type: "worker:drained" }
  /** How many engine.io sessions it holds, and how many routed connections it has received so far. */
  | { type: "worker:connections"; connections: number; received: number };

/** What the primary tells a worker. */
export type PrimaryMessage =
  /** Drain and exit within `timeoutMs`. */
  | { type: "worker:shutdown"; timeoutMs: number }
  /** Connections the primary holds for other workers while this one drains (drain pace). */
  | { type: "router:backlog"; connections: number }
  /** Sent with a client's socket: the bytes the primary read from it to choose this worker. */
  | { type: "router:connection"; head: Buffer };

const WORKER_TYPES = new Set(["worker:ready", "worker:drained", "worker:connections"]);
const PRIMARY_TYPES = new Set(["worker:shutdown", "router:backlog", "router:connection"]);

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function typed(value: unknown, types: ReadonlySet<string>): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { type } = value as { type?: unknown };
  return typeof type === "string" && types.has(type) ? (value as Record<string, unknown>) : undefined;
}

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  const message = typed(value, WORKER_TYPES);
  switch (message?.type) {
    case "worker:ready":
      return typeof message.instance === "string";
    case "worker:drained":
      return true;
    case "worker:connections":
      return isCount(message.connections) && isCount(message.received);
    default:
      return false;
  }
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  const message = typed(value, PRIMARY_TYPES);
  switch (message?.type) {
    case "worker:shutdown":
      return isCount(message.timeoutMs);
    case "router:backlog":
      return isCount(message.connections);
    case "router:connection":
      return Buffer.isBuffer(message.head);
    default:
      return false;
  }
}

const ignore = (): void => undefined;

/**
 * Tells a worker; `done` hears whether the message (and the socket, if any) was written to the
 * channel. A worker that is gone is not an error here: its exit is handled where it is watched.
 * A socket stays open in the primary (`keepOpen`): the caller closes its copy once it is written.
 */
export function sendToWorker(worker: Worker, message: PrimaryMessage, socket?: Socket, done: (err: Error | null) => void = ignore): void {
  if (worker.isDead() || !worker.isConnected()) done(new Error(`worker ${worker.id} is gone`));
  else if (socket) worker.send(message, socket, { keepOpen: true }, done);
  else worker.send(message, done);
}

/** Tells the primary, if there is one; a primary that is gone is not an error (the worker stops by itself). */
export function sendToPrimary(message: WorkerMessage): void {
  if (process.connected) process.send?.(message, undefined, undefined, ignore);
}

/**
 * engine.io session ids name the worker that owns the session, `<worker id>.<random>`, so that the
 * primary routes every later request of a session (polling, the WebSocket upgrade) to that worker
 * without being told of each session. The random part has engine.io's own 15 bytes of entropy.
 */
export function sessionIdFor(workerId: number): string {
  return `${workerId}.${randomBytes(15).toString("base64url")}`;
}

/** The worker id a session id names, if it is one of ours. */
export function workerOfSession(sessionId: string): number | undefined {
  const match = /^(\d{1,9})\./.exec(sessionId);
  return match ? Number(match[1]) : undefined;
}
