import { parseLimit } from "../domain/messages.js";
import { assertNotGeneral, parseRoomName, parseUsername, type RoomName, userChannel, usernameKey } from "../domain/names.js";
import { AppError, invalid } from "../lib/errors.js";
import { type AccessChange, type ChatServer, type ChatSocket, memberWatchers, type RealtimeDeps } from "./context.js";
import type { Delivery } from "./delivery.js";
import { acked, type Listeners, objectPayload } from "./with-ack.js";

/** Moves a user's sockets on every worker into or out of a room. */
export interface AccessRelay {
  /** Settles once every worker that answered in time has moved the user's sockets and told them. */
  apply(change: AccessChange): Promise<void>;
}

function isAccessChange(value: unknown): value is AccessChange {
  const change = value as Partial<AccessChange> | null;
  return (
    typeof change === "object" &&
    change !== null &&
    (change.kind === "invited" || change.kind === "removed") &&
    typeof change.room === "string" &&
    change.room.startsWith("#") &&
    typeof change.user === "string" &&
    typeof change.by === "string" &&
    typeof change.private === "boolean"
  );
}

/**
 * Each worker moves its own sockets of the user and answers (serverSideEmit with acknowledgements),
 * so the owner's ack means the removed user's sockets everywhere have left: a message sent after it
 * cannot reach them. A worker that does not answer in time still gets socket.io's broadcast leave.
 */
export function createAccessRelay(io: ChatServer, deps: RealtimeDeps, delivery: Delivery): AccessRelay {
  const { log } = deps;
  const namespace = io.of("/");

  const socketsOf = (user: string): ChatSocket[] =>
    [...(namespace.adapter.rooms.get(userChannel(user)) ?? [])].flatMap((id) => namespace.sockets.get(id) ?? []);

  const applyHere = async (change: AccessChange): Promise<void> => {
    const { room, by } = change;
    const sockets = socketsOf(change.user);
    if (change.kind === "removed") {
      for (const socket of sockets) {
        socket.leave(room);
        socket.leave(memberWatchers(room));
        socket.emit("room:removed", { room, by });
      }
      return;
    }
    for (const socket of sockets) socket.join(room);
    // Told only once this worker hears the room live: the history the client then loads and the
    // live messages after it leave no gap.
    await Promise.all(sockets.map((socket) => delivery.follow(socket, [room]))).catch((err: Error) =>
      log.warn({ err: err.message }, "invited sockets: live delivery not confirmed"),
    );
    for (const socket of sockets) socket.emit("room:invited", { room, by, private: change.private });
  };

  io.on("room:access", (change, done) => {
    // Answered either way, so the sender never waits out its timeout for this worker.
    const answer = (applied: boolean) => (typeof done === "function" ? done(applied) : undefined);
    if (!isAccessChange(change)) return answer(false);
    applyHere(change).then(
      () => answer(true),
      (err: Error) => {
        log.warn({ err: err.message }, "room access change not applied");
        answer(false);
      },
    );
  });

  return {
    async apply(change) {
      await applyHere(change);
      try {
        await io.serverSideEmitWithAck("room:access", change);
      } catch (err) {
        log.warn({ err: (err as Error).message }, "room access change: not every worker answered");
        if (change.kind === "removed") io.in(userChannel(change.user)).socketsLeave([change.room, memberWatchers(change.room)]);
      }
    },
  };
}

/** Makes the socket follow this room's member changes and no other room's: a client shows one list. */
function watchMembers(socket: ChatSocket, room: RoomName): void {
  const channel = memberWatchers(room);
  for (const joined of [...socket.rooms]) if (joined.startsWith("~members:") && joined !== channel) socket.leave(joined);
  socket.join(channel);
}

/** The room and the user a room admin event names. */
function parseTarget(raw: unknown): { room: RoomName; name: string } {
  const payload = objectPayload(raw);
  const room = parseRoomName(payload.room);
  assertNotGeneral(room);
  return { room, name: parseUsername(payload.user) };
}

/** Reads a `room:members` cursor: the `next` of a previous page (a set scan cursor). */
function parseCursor(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^[0-9]{1,20}$/.test(value)) throw invalid("cursor must be the `next` of a previous page");
  return value;
}

/** Owner actions (invite, remove, transfer) and the member list. */
export function roomAdminListeners(deps: RealtimeDeps, delivery: Delivery, relay: AccessRelay): Listeners {
  const { log, access, users, presence, config } = deps;

  /** @throws E_FORBIDDEN unless the socket's user owns the room. */
  const ownedBy = async (socket: ChatSocket, room: RoomName) => {
    const info = await access.get(room);
    if (info.owner === undefined || usernameKey(info.owner) !== usernameKey(socket.data.user)) {
      throw new AppError("E_FORBIDDEN", `only the owner of ${room} can do that`);
    }
    return info;
  };

  /** The registered spelling of another user. @throws E_NOT_FOUND, E_INVALID (oneself). */
  const otherUser = async (socket: ChatSocket, name: string) => {
    if (usernameKey(name) === usernameKey(socket.data.user)) throw invalid("name another user");
    const user = await users.displayName(name);
    if (user === undefined) throw new AppError("E_NOT_FOUND", `no user ${name}`);
    return user;
  };

  /** Applies an invitation or removal by the socket's user on every worker, and tells the room's watchers. */
  const accessChanged = async (socket: ChatSocket, change: Omit<AccessChange, "by">): Promise<void> => {
    const by = socket.data.user;
    await relay.apply({ ...change, by });
    delivery.memberUpdate({ room: change.room, user: change.user, change: change.kind, owner: by });
  };

  const notMember = (user: string, room: RoomName) => new AppError("E_NOT_FOUND", `${user} is not a member of ${room}`);

  return {
    "room:invite": acked(log, "room:invite", async (socket, raw) => {
      const { room, name } = parseTarget(raw);
      const info = await ownedBy(socket, room);
      const user = await otherUser(socket, name);
      if (await access.admit(user, room)) await accessChanged(socket, { room, user, kind: "invited", private: info.private });
      return { room, user };
    }),

    "room:remove": acked(log, "room:remove", async (socket, raw) => {
      const { room, name } = parseTarget(raw);
      const info = await ownedBy(socket, room);
      const user = await otherUser(socket, name);
      if (!(await access.expel(user, room))) throw notMember(user, room);
      await accessChanged(socket, { room, user, kind: "removed", private: info.private });
      return { room, user };
    }),

    "room:transfer": acked(log, "room:transfer", async (socket, raw) => {
      const { room, name } = parseTarget(raw);
      await ownedBy(socket, room);
      const user = await otherUser(socket, name);
      if (!(await access.isMember(user, room))) throw notMember(user, room);
      if (!(await access.transfer(room, socket.data.user, user)))
        throw new AppError("E_FORBIDDEN", `only the owner of ${room} can do that`);
      delivery.memberUpdate({ room, user, change: "owner", owner: user });
      return { room, owner: user };
    }),

    "room:members": acked(log, "room:members", async (socket, raw) => {
      const payload = objectPayload(raw);
      const room = parseRoomName(payload.room);
      const cursor = parseCursor(payload.cursor);
      const limit = parseLimit(payload.limit, config.limits.membersPage, config.limits.membersPage);
      if (payload.watch !== undefined && typeof payload.watch !== "boolean") throw invalid("watch must be true or false");
      // As stored, not this socket's rooms: a removal elsewhere counts at once.
      if (!(await access.isMember(socket.data.user, room))) throw new AppError("E_FORBIDDEN", `join ${room} first`);
      // Before the read: a change made while it runs is told, so the list shown is never stale.
      if (payload.watch === true) watchMembers(socket, room);
      const [info, page] = await Promise.all([access.get(room), access.members(room, cursor, limit)]);
      const online = await presence.areOnline(page.members);
      const members = page.members.map((user, i) => ({ user, online: online[i] === true }));
      return {
        room,
        ...(info.owner === undefined ? {} : { owner: info.owner }),
        private: info.private,
        members,
        ...(page.next === undefined ? {} : { next: page.next }),
      };
    }),
  };
}
