import type { Worker } from "node:cluster";
import { STATUS_CODES } from "node:http";
import type { Server, Socket } from "node:net";
import type { ErrorBody } from "../lib/error-codes.js";
import { isWorkerMessage, sendToWorker, workerOfSession } from "../lib/ipc.js";
import type { Logger } from "../lib/logger.js";
import { firstRequest, hasHead } from "./request-head.js";

/**
 * The primary's half of the project's sticky routing (the worker's half is worker/routed-connections.ts).
 *
 * The primary reads each connection's first request, then passes the socket and the bytes it read
 * to one worker over node:cluster's IPC. A request that names an engine.io session (`sid=`) goes to
 * the worker whose id the session id carries, so every polling request and the WebSocket upgrade of
 * a session reach the worker that holds it. Any other goes to the ready worker with the fewest
 * connections, never to one that is starting or draining. @socket.io/sticky does the same but routes
 * to every entry of cluster.workers, starting and draining workers included.
 */
export interface Router {
  /** A worker that reported ready: it takes new connections from now on. */
  add(worker: Worker): void;
  /** A worker that is draining: it takes no new connections (the requests of its sessions still reach it). */
  remove(worker: Worker): void;
  /** Connections read but not yet written to a worker's channel: how far the workers are behind. */
  backlog(): number;
  /** Stops routing: the connections waiting for a worker are closed. */
  close(): void;
}

export interface RouterOptions {
  /** The largest request body the primary holds before handing its connection over. */
  maxBodyBytes: number;
  /** How long a connection may take to send its first request's head, then whole request (408 after). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  log: Logger;
}

interface Route {
  worker: Worker;
  routable: boolean;
  /** Connections passed to the worker so far. */
  handed: number;
  /** The worker's last report of its load, if it sent one. */
  reported?: { connections: number; received: number };
  /** Sockets whose hand-over is not written yet (Node passes one socket at a time per worker). */
  sending: Set<Socket>;
}

interface Waiting {
  socket: Socket;
  head: Buffer;
}

export function createRouter(server: Server, { maxBodyBytes, headersTimeoutMs, requestTimeoutMs, log }: RouterOptions): Router {
  const routes = new Map<number, Route>();
  /** Connections that arrived while no worker was ready (all starting, or crashed at once). */
  const waiting: Waiting[] = [];
  let sendingCount = 0;
  let closed = false;

  /** Its last report, plus what was handed to it since: reports come at most every 200 ms. */
  const load = ({ reported, handed }: Route): number => (reported ? reported.connections + handed - reported.received : handed);

  const leastLoaded = (): Route | undefined => {
    let best: Route | undefined;
    for (const route of routes.values()) if (route.routable && (!best || load(route) < load(best))) best = route;
    return best;
  };

  const handOver = (route: Route, socket: Socket, head: Buffer): void => {
    route.handed++;
    route.sending.add(socket);
    sendingCount++;
    sendToWorker(route.worker, { type: "router:connection", head }, socket, () => {
      if (!route.sending.delete(socket)) return;
      sendingCount--;
      // Written, the worker has its own descriptor, and the primary's still reads (pause() does
      // not stop that). Left open until Node hears the worker's acknowledgement, which a busy
      // primary hears late, it could take the first bytes a client sends after the worker's
      // answer, and that client's handshake would hang. Closing it closes this process's
      // descriptor only; not written (the worker is gone), it closes the connection.
      socket.destroy();
    });
  };

  const dispatch = (socket: Socket, head: Buffer, sessionId: string | undefined): void => {
    const owner = sessionId === undefined ? undefined : workerOfSession(sessionId);
    const route = (owner !== undefined ? routes.get(owner) : undefined) ?? leastLoaded();
    if (route) {
      handOver(route, socket, head);
      return;
    }
    const entry = { socket, head };
    waiting.push(entry);
    socket.once("close", () => {
      const at = waiting.indexOf(entry);
      if (at !== -1) waiting.splice(at, 1);
    });
  };

  server.on("connection", (socket: Socket) => {
    let buffered: Buffer = Buffer.alloc(0);
    const connectedAt = Date.now();
    // Node arms these deadlines on the connections of a server that listens; here the primary holds
    // each connection until its first request is whole, so it answers a slow one itself.
    const tooSlow = (): void => {
      socket.off("data", onData);
      refuse(socket, 408);
    };
    let deadline = setTimeout(tooSlow, headersTimeoutMs);
    let headRead = false;
    socket.once("close", () => clearTimeout(deadline));
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const request = firstRequest(buffered, maxBodyBytes);
      if (request.state === "partial") {
        if (!headRead && hasHead(buffered)) {
          headRead = true;
          clearTimeout(deadline);
          deadline = setTimeout(tooSlow, Math.max(0, requestTimeoutMs - (Date.now() - connectedAt)));
        }
        return;
      }
      clearTimeout(deadline);
      socket.off("data", onData);
      // Bytes read here from now on would never reach the worker. A client sends none until it has
      // its answer, and the primary closes its copy of the socket once the hand-off is written
      // (handOver), before the worker can have answered.
      socket.pause();
      if (request.state === "refused") refuse(socket, request.status);
      else if (closed) socket.destroy();
      else dispatch(socket, buffered, request.sessionId);
    };
    socket.on("data", onData);
  });

  return {
    add(worker) {
      const route: Route = { worker, routable: true, handed: 0, sending: new Set() };
      routes.set(worker.id, route);
      worker.on("message", (message: unknown) => {
        if (isWorkerMessage(message) && message.type === "worker:connections") {
          route.reported = { connections: message.connections, received: message.received };
        }
      });
      // Sockets still queued for a worker that died: their clients reconnect at once instead of hanging.
      worker.once("exit", () => {
        routes.delete(worker.id);
        for (const socket of route.sending) socket.destroy();
        sendingCount -= route.sending.size;
        route.sending.clear();
      });
      for (const { socket, head } of waiting.splice(0)) handOver(route, socket, head);
    },
    remove(worker) {
      const route = routes.get(worker.id);
      if (route) route.routable = false;
    },
    backlog: () => waiting.length + sendingCount,
    close() {
      closed = true;
      for (const { socket } of waiting.splice(0)) socket.destroy();
      log.debug("router closed");
    },
  };
}

/** What the primary answers itself, in the JSON error shape of the HTTP API (docs/protocol.md). */
const REFUSALS: Record<400 | 408 | 413 | 431, ErrorBody> = {
  400: { code: "E_INVALID", message: "malformed request framing" },
  408: { code: "E_INVALID", message: "request timed out" },
  413: { code: "E_TOO_LONG", message: "request body too large" },
  431: { code: "E_TOO_LONG", message: "request headers too large" },
};

function refuse(socket: Socket, status: keyof typeof REFUSALS): void {
  const body = JSON.stringify({ error: REFUSALS[status] });
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  socket.end(head + body, () => socket.destroy());
}
