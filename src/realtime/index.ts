import type { Server as HttpServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { Server } from "socket.io";
import type { SessionMiddleware } from "../http/session.js";
import type { SessionKeeper } from "../store/sessions.js";
import { allowSameOrigin, handshakeMiddleware, requireLogin } from "./auth.js";
import { connectionHandler } from "./connection.js";
import type { ChatServer, ChatSocket, RealtimeDeps } from "./context.js";
import { createDelivery, type Delivery } from "./delivery.js";
import { type Announcer, createAnnouncer, startPresenceHeartbeat } from "./presence.js";
import { endSessionSockets, startSessionWatch } from "./sessions.js";

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
   * Stops timers and sends every client (and any that still arrives) to reconnect elsewhere, spread
   * over at most `budgetMs` so the workers that take them over are not handed thousands at once.
   */
  drain(budgetMs: number): Promise<void>;
}

/**
 * How fast a draining worker sends its clients away. Each one reconnects within a second, and the
 * worker that takes it (a fresh one, during a rolling restart) spends about a millisecond on its
 * handshake: a worker's 4,500 at once left the last ones waiting past their 8 s timeout; at
 * 1,500/s a few hundred still did; at 750/s none (B5).
 */
const DRAIN_PER_SECOND = 750;
const DRAIN_SLICE_MS = 50;

async function closeGradually(sockets: ChatSocket[], budgetMs: number): Promise<void> {
  const spreadMs = Math.min(budgetMs, (sockets.length / DRAIN_PER_SECOND) * 1000);
  const slices = Math.max(1, Math.ceil(spreadMs / DRAIN_SLICE_MS));
  const perSlice = Math.ceil(sockets.length / slices);
  for (let start = 0; start < sockets.length; start += perSlice) {
    if (start > 0) await sleep(DRAIN_SLICE_MS);
    for (const socket of sockets.slice(start, start + perSlice)) socket.conn.close();
  }
}

/** The socket.io side of one worker, on an http.Server it does not own or listen on. */
export function createRealtime(server: HttpServer, options: RealtimeOptions): Realtime {
  const { config } = options;
  const io: ChatServer = new Server(server, {
    maxHttpBufferSize: config.limits.socketMaxBytes,
    allowRequest: allowSameOrigin(config),
    serveClient: false,
  });
  if (options.adapter) io.adapter(options.adapter);
  io.engine.use(handshakeMiddleware(options.session, options.limiter, config));
  requireLogin(io, config);

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
    async drain(budgetMs) {
      draining = true;
      stopHeartbeat();
      stopWatch();
      await closeGradually([...io.of("/").sockets.values()], budgetMs);
    },
  };
}
