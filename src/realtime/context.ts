import type { Server, Socket } from "socket.io";
import type { Config } from "../config.js";
import type { RoomName } from "../domain/names.js";
import type { Logger } from "../lib/logger.js";
import type { Counters } from "../lib/metrics.js";
import type { MessageStore } from "../store/messages.js";
import type { PresenceStore } from "../store/presence.js";
import type { RateLimiter } from "../store/rate-limits.js";
import type { ReadStateStore } from "../store/read-state.js";
import type { RoomAccessStore } from "../store/room-access.js";
import type { RoomStore } from "../store/rooms.js";
import type { SearchStore } from "../store/search.js";
import type { UserStore } from "../store/users.js";
import type { ClientToServerEvents, ServerToClientEvents } from "./events.js";

/**
 * What workers tell each other through the adapter (`io.serverSideEmit`, which reaches every
 * worker: only rare owner actions use it; presence and a user's own tabs are told on the
 * conversations' and users' live channels, presence.ts and user-signals.ts).
 */
export interface InterServerEvents {
  /**
   * A user was made a member of a room or removed from it: each worker moves that user's sockets
   * and tells them, then answers, so the sender knows every worker has applied it (room-admin.ts).
   */
  "room:access": (change: AccessChange, done: (applied: boolean) => void) => void;
}

export interface AccessChange {
  kind: "invited" | "removed";
  room: RoomName;
  user: string;
  by: string;
  private: boolean;
}

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
  access: RoomAccessStore;
  messages: MessageStore;
  presence: PresenceStore;
  limiter: RateLimiter;
  counters: Counters;
  search: SearchStore;
  readState: ReadStateStore;
}

/**
 * The socket.io room of the sockets that follow a room's member list (`room:members` with
 * `watch`): member changes go to those few, not to every member of a large room.
 */
export const memberWatchers = (room: RoomName): string => `~members:${room}`;
