import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ErrorBody } from "../lib/error-codes.js";

export interface DeadlineOptions {
  /** Time from a connection's start (or its last response) until a request head is complete. */
  headersTimeoutMs: number;
  /** Time from a connection's start (or its last response) until a request, body and all, is received. */
  requestTimeoutMs: number;
  /** A request that declares a larger Content-Length is refused (413) before its body is read. */
  maxBodyBytes: number;
}

type RequestListener = (this: HttpServer, req: IncomingMessage, res: ServerResponse) => void;

/**
 * Node arms `headersTimeout` and `requestTimeout` only on a server that listens, and a worker's
 * server never does: the primary hands it its connections. So without this, a client that sends
 * half a request head holds a worker connection for ever. This gives every connection the same
 * deadlines through the server's public events, whichever way it arrived. Call it after socket.io
 * has attached, so that its request listener is behind the size check too.
 */
export function armConnectionDeadlines(server: HttpServer, options: DeadlineOptions): void {
  /** Each connection's pending deadline, and when its current request started. */
  const states = new WeakMap<Duplex, { timer?: NodeJS.Timeout; since: number }>();
  const clear = (socket: Duplex) => clearTimeout(states.get(socket)?.timer);
  const awaitHead = (socket: Duplex) => {
    clear(socket);
    states.set(socket, { since: Date.now(), timer: setTimeout(() => refuseRaw(socket), options.headersTimeoutMs) });
  };

  // An upgraded (WebSocket) connection has no more request heads: nothing of its state is kept, as
  // every idle socket would pay for it. One listener serves every connection's close.
  const forget = (socket: Duplex) => {
    clear(socket);
    states.delete(socket);
  };
  function onClose(this: Duplex): void {
    forget(this);
  }
  server.on("connection", (socket: Duplex) => {
    awaitHead(socket);
    socket.once("close", onClose);
  });
  server.on("upgrade", (_req: IncomingMessage, socket: Duplex) => {
    forget(socket);
    socket.removeListener("close", onClose);
  });

  const listeners = server.listeners("request") as RequestListener[];
  server.removeAllListeners("request");
  server.on("request", function (this: HttpServer, req: IncomingMessage, res: ServerResponse) {
    const socket = req.socket as Duplex;
    clear(socket);
    if (declaredLength(req) > options.maxBodyBytes) {
      refuse(req, res, 413, { code: "E_TOO_LONG", message: "request body too large" });
      return;
    }
    const state = states.get(socket);
    if (state && !req.complete) {
      state.timer = setTimeout(
        () => {
          if (!req.complete) refuse(req, res, 408, { code: "E_INVALID", message: "request timed out" });
        },
        Math.max(0, state.since + options.requestTimeoutMs - Date.now()),
      );
    }
    // A kept-alive connection waits for its next request head under the same deadline.
    res.once("finish", () => {
      if (!socket.destroyed) awaitHead(socket);
    });
    for (const listener of listeners) listener.call(this, req, res);
  });
}

function declaredLength(req: IncomingMessage): number {
  const raw = req.headers["content-length"];
  return raw === undefined ? 0 : Number(raw);
}

/** Answers once and closes the connection, so the rest of the body is never read. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, error: ErrorBody): void {
  if (res.headersSent) {
    req.socket.destroy();
    return;
  }
  res.once("finish", () => req.socket.destroy());
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", Connection: "close" });
  res.end(JSON.stringify({ error }));
}

/** Before a request head is complete there is no response object: answer on the connection itself. */
function refuseRaw(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.end("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  setTimeout(() => socket.destroy(), 1000).unref();
}
