import type { Server as HttpServer } from "node:http";
import { Socket } from "node:net";
import { Server } from "socket.io";
import type { SessionMiddleware } from "../http/session.js";
import type { SessionKeeper } from "../store/sessions.js";
import { allowSameOrigin, handshakeMiddleware, requireLogin } from "./auth.js";
import { connectionHandler } from "./connection.js";
import type { ChatServer, RealtimeDeps } from "./context.js";
import { createDelivery, type Delivery } from "./delivery.js";
import { sendBroadcastFramesDirectly } from "./direct-frames.js";
import { closeGradually, type DrainPace } from "./drain.js";
import { type Announcer, createAnnouncer, startPresenceHeartbeat } from "./presence.js";
import { reuseConnectionArrays } from "./reused-arrays.js";
import { endSessionSockets, startSessionWatch } from "./sessions.js";
import { batchWrites } from "./write-batching.js";

export interface RealtimeOptions extends RealtimeDeps {
  session: SessionMiddleware;
  sessions: SessionKeeper;
  /** Resolves once the worker's delivery feed reader has delivered everything stored so far. */
  syncFeed(timeoutMs: number): Promise<void>;
  /** The socket.io adapter: how broadcasts reach the other workers (redis or cluster). */
  adapter?: Parameters<ChatServer["adapter"]>[0];
}

export interface Realtime {
  io: ChatServer;
  delivery: Delivery;
  /** Tells every socket who came online or went offline. */
  announcer: Announcer;
  endSessionSockets(sessionId: string): void;
  /** Closes every client transport: clients reconnect by themselves and catch up from their last ids. */
  reconnectAll(): void;
  /**
   * Stops timers and sends every client (and any that still arrives) to reconnect elsewhere, at
   * the pace the workers that take them over can follow (drain.ts).
   */
  drain(pace: DrainPace): Promise<void>;
}

/** The socket.io side of one worker, on an http.Server it does not own or listen on. */
export function createRealtime(server: HttpServer, options: RealtimeOptions): Realtime {
  const { config } = options;
  // Every WebSocket connection sends the frames of one event-loop turn in one system call.
  server.on("upgrade", (_req, socket) => {
    if (socket instanceof Socket) batchWrites(socket);
  });
  // And keeps the arrays ws and engine.io would replace after every message (reused-arrays.ts).
  reuseConnectionArrays();
  // And a broadcast's frame goes straight to ws when engine.io would send it at once (direct-frames.ts).
  sendBroadcastFramesDirectly();
  const io: ChatServer = new Server(server, {
    maxHttpBufferSize: config.limits.socketMaxBytes,
    allowRequest: allowSameOrigin(config),
    serveClient: false,
  });
  if (options.adapter) io.adapter(options.adapter);
  io.engine.use(handshakeMiddleware(options.session, options.limiter, config));
  requireLogin(io, config, options.presence);

  const delivery = createDelivery(io, options.syncFeed, options.counters);
  const announcer = createAnnouncer(io, options.presence, options.log);
  let draining = false;
  const connect = connectionHandler(io, options, delivery, announcer, () => draining);
  io.on("connection", (socket) => {
    if (draining) socket.conn.close();
    else connect(socket);
  });
  const stopHeartbeat = startPresenceHeartbeat(options.presence, announcer, config.presenceTtlSeconds, options.log);
  const stopWatch = startSessionWatch(io, options.sessions, config, options.log);

  const reconnectAll = (): void => {
    for (const socket of io.of("/").sockets.values()) socket.conn.close();
  };

  return {
    io,
    delivery,
    announcer,
    endSessionSockets: (sessionId) => endSessionSockets(io, sessionId),
    reconnectAll,
    async drain(pace) {
      draining = true;
      stopHeartbeat();
      stopWatch();
      await closeGradually(
        [...io.of("/").sockets.values()].map((socket) => socket.conn),
        pace,
      );
    },
  };
}
