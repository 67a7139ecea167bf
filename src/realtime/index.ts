import type { Server as HttpServer } from "node:http";
import { Server } from "socket.io";
import type { SessionMiddleware } from "../session/middleware.js";
import type { SessionKeeper } from "../store/sessions.js";
import { allowSameOrigin, handshakeMiddleware, requireLogin } from "./auth.js";
import { connectionHandler } from "./connection.js";
import type { ChatServer, RealtimeDeps } from "./context.js";
import { createDelivery, type Delivery, type OpenFeed } from "./delivery.js";
import { closeGradually, type DrainPace } from "./drain.js";
import { type Announcer, createAnnouncer, startPresenceHeartbeat } from "./presence.js";
import { endLocalSession, startSessionWatch } from "./sessions.js";
import { assertEngineIoLine } from "./upgrade-request.js";

export interface RealtimeOptions extends RealtimeDeps {
  session: SessionMiddleware;
  sessions: SessionKeeper;
  /** Opens this worker's live feed (per-conversation subscriptions), which delivery drives. */
  openFeed: OpenFeed;
  /** The socket.io adapter: how broadcasts reach the other workers (redis or cluster). */
  adapter?: Parameters<ChatServer["adapter"]>[0];
}

export interface Realtime {
  io: ChatServer;
  delivery: Delivery;
  /** Tells the sockets that share a conversation with a user that they came online or went offline. */
  announcer: Announcer;
  /** Tells every socket of a session of `user`, on every worker, that it ended, and disconnects them. */
  endSessionSockets(user: string, sessionId: string): void;
  /**
   * Stops timers and sends every client (and any that still arrives) to reconnect elsewhere, at
   * the pace the workers that take them over can follow (drain.ts).
   */
  drain(pace: DrainPace): Promise<void>;
}

/** The socket.io side of one worker, on an http.Server it does not own or listen on. */
export function createRealtime(server: HttpServer, options: RealtimeOptions): Realtime {
  assertEngineIoLine();
  const { config } = options;
  const io: ChatServer = new Server(server, {
    maxHttpBufferSize: config.limits.socketMaxBytes,
    allowRequest: allowSameOrigin(config),
    serveClient: false,
  });
  if (options.adapter) io.adapter(options.adapter);
  io.engine.use(handshakeMiddleware(options.session, options.limiter, config));
  requireLogin(io, config, options.presence);

  // Presence changes travel on the conversations' live channels: delivery hears them for the
  // announcer, which publishes through delivery (called only once both exist).
  const delivery = createDelivery(io, options.openFeed, options.counters, (stream, users) => announcer.heard(stream, users));
  const announcer = createAnnouncer(io, options, (stream, users) => delivery.presence(stream, users));
  let draining = false;
  const connect = connectionHandler(io, options, delivery, announcer, () => draining);
  io.on("connection", (socket) => {
    if (draining) socket.conn.close();
    else connect(socket);
  });
  const stopHeartbeat = startPresenceHeartbeat(options.presence, announcer, config.presenceTtlSeconds, options.log);
  const stopWatch = startSessionWatch(io, options.sessions, config, options.log);

  return {
    io,
    delivery,
    announcer,
    endSessionSockets(user, sessionId) {
      // Ended here at once, even if Redis cannot carry the signal to the user's other workers.
      endLocalSession(io, user, sessionId);
      delivery.signal(user, { event: "session:ended", data: { session: sessionId } });
    },
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
