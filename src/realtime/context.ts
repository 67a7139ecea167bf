import type { Server, Socket } from "socket.io";
import type { Config } from "../config.js";
import type { Logger } from "../lib/logger.js";
import type { Counters } from "../lib/metrics.js";
import type { MessageStore } from "../store/messages.js";
import type { PresenceStore } from "../store/presence.js";
import type { RateLimiter } from "../store/rate-limits.js";
import type { ReadStateStore } from "../store/read-state.js";
import type { RoomStore } from "../store/rooms.js";
import type { SearchStore } from "../store/search.js";
import type { UserStore } from "../store/users.js";
import type { ClientToServerEvents, ServerToClientEvents } from "./events.js";

/**
 * What workers tell each other through the adapter (`io.serverSideEmit`): nothing, since that
 * reaches every worker; presence changes travel on their own channel (store/presence-notices.ts).
 */
export type InterServerEvents = Record<never, never>;

export interface SocketData {
  user: string;
  sessionId: string;
  /** When the session logged in (ms), for the absolute timeout. */
  sessionCreatedAt: number;
  /** When the client last sent an event (ms): only active sockets keep their session from idling out. */
  activeAt: number;
}

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** What every realtime feature may use; built once per worker by the composition root. */
export interface RealtimeDeps {
  config: Config;
  log: Logger;
  instance: string;
  users: UserStore;
  rooms: RoomStore;
  messages: MessageStore;
  presence: PresenceStore;
  limiter: RateLimiter;
  counters: Counters;
  search: SearchStore;
  readState: ReadStateStore;
}

/** The socket.io room of every socket of one login session (logout ends them all). */
export const sessionChannel = (sessionId: string): string => `session:${sessionId}`;
