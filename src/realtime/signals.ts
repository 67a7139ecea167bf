import { isRoomName, type RoomName, userChannel } from "../domain/names.js";
import type { LiveEvent } from "../store/live-wire.js";
import { type ChatServer, memberWatchers } from "./context.js";
import type { MemberChange, MemberUpdate, ReadUpdate } from "./events.js";
import { endLocalSession } from "./sessions.js";

/**
 * What every socket of a user must see or do, on whichever workers hold one. It travels on the
 * user's notice channel, which a worker hears only while it has a socket of that user, and in
 * place before the socket is welcomed: no worker without the user's sockets pays for it, and a
 * socket just set up on another worker does not miss it (as it could a single-room adapter
 * broadcast, whose channel the sharded adapter subscribes to without waiting).
 * `except` is the socket that caused it and needs no telling.
 */
export type UserSignal =
  | { event: "read:update"; data: ReadUpdate; except?: string }
  | { event: "room:joined"; data: { room: RoomName; private: boolean }; except: string }
  | { event: "room:left"; data: { room: RoomName }; except: string }
  | { event: "session:ended"; data: { session: string } };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

function isReadUpdate(data: unknown): data is ReadUpdate {
  if (!isRecord(data)) return false;
  const { conversation, lastId, mentions } = data;
  return (
    typeof conversation === "string" &&
    (conversation.startsWith("#") || conversation.startsWith("@")) &&
    typeof mentions === "number" &&
    (lastId === undefined || typeof lastId === "string")
  );
}

/** Reads a signal heard on a user's channel; undefined for another version's or a malformed one. */
export function parseSignal({ event, data, except }: LiveEvent): UserSignal | undefined {
  if (event === "read:update") return isReadUpdate(data) ? (except === undefined ? { event, data } : { event, data, except }) : undefined;
  if (!isRecord(data)) return undefined;
  if (event === "session:ended") return typeof data.session === "string" ? { event, data: { session: data.session } } : undefined;
  const { room } = data;
  if (except === undefined || !isRoomName(room)) return undefined;
  if (event === "room:left") return { event, data: { room }, except };
  if (event === "room:joined" && typeof data.private === "boolean") return { event, data: { room, private: data.private }, except };
  return undefined;
}

/** Applies a signal to this worker's sockets of `user`. */
export function applySignal(io: ChatServer, user: string, signal: UserSignal): void {
  const sockets = io.local.in(userChannel(user));
  switch (signal.event) {
    case "read:update":
      (signal.except === undefined ? sockets : sockets.except(signal.except)).emit("read:update", signal.data);
      return;
    case "room:joined": {
      // The other tabs follow the join live; they load the room's history themselves.
      const others = sockets.except(signal.except);
      others.socketsJoin(signal.data.room);
      others.emit("room:joined", signal.data);
      return;
    }
    case "room:left": {
      const others = sockets.except(signal.except);
      others.socketsLeave([signal.data.room, memberWatchers(signal.data.room)]);
      others.emit("room:left", { room: signal.data.room });
      return;
    }
    case "session:ended":
      endLocalSession(io, user, signal.data.session);
      return;
  }
}

const MEMBER_CHANGES: readonly string[] = ["joined", "left", "invited", "removed", "owner"] satisfies MemberChange[];

/**
 * A room's member list changed: told on the room's live channel, which every worker with a member
 * socket follows (and has followed since that socket joined, so a watch set up just now misses
 * nothing), to the sockets there that watch the list.
 */
export function parseMemberUpdate(room: string, { event, data }: LiveEvent): MemberUpdate | undefined {
  if (event !== "room:member" || !isRecord(data) || data.room !== room || !isRoomName(room)) return undefined;
  const { user, change, owner } = data;
  if (typeof user !== "string" || typeof change !== "string" || !MEMBER_CHANGES.includes(change)) return undefined;
  if (owner !== undefined && typeof owner !== "string") return undefined;
  const update: MemberUpdate = { room, user, change: change as MemberChange };
  return owner === undefined ? update : { ...update, owner };
}

export function applyMemberUpdate(io: ChatServer, update: MemberUpdate): void {
  io.local.to(memberWatchers(update.room as RoomName)).emit("room:member", update);
}
