import { parseLimit } from "../domain/messages.js";
import { assertNotGeneral, GENERAL_ROOM, isRoomName, parseRoomName, type RoomName, userChannel } from "../domain/names.js";
import { invalid } from "../lib/errors.js";
import type { Joined } from "../store/rooms.js";
import { type ChatServer, type ChatSocket, memberWatchers, type RealtimeDeps } from "./context.js";
import { type Delivery, type Sent, sentKey } from "./delivery.js";
import { acked, answer, type Listeners, objectPayload } from "./with-ack.js";

/** Adds the user to the room in the store: joins it, or creates it. */
type Admit = (user: string, room: RoomName, payload: Record<string, unknown>) => Promise<Joined & { created?: boolean }>;

function parsePrivate(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw invalid("private must be true or false");
  return value;
}

export function roomListeners(io: ChatServer, deps: RealtimeDeps, delivery: Delivery): Listeners {
  const { log, rooms, access, messages, config } = deps;

  const enter = async (socket: ChatSocket, raw: unknown, sent: Sent, admit: Admit) => {
    const user = socket.data.user;
    const payload = objectPayload(raw);
    const room = parseRoomName(payload.room);
    const wasMember = socket.rooms.has(room);
    const joined = await admit(user, room, payload);
    socket.join(room);
    await delivery.follow(socket, [room]);
    delivery.signal(user, { event: "room:joined", data: { room, private: joined.private }, except: socket.id });
    // #general holds everyone: its member list is not followed live. A new room has no one to tell.
    if (!wasMember && !joined.created && room !== GENERAL_ROOM) delivery.memberUpdate({ room, user, change: "joined" });
    const history = await messages.latest(room, user, config.limits.historyPage);
    const newest = history.at(-1)?.id;
    if (newest !== undefined) sent.set(sentKey(room), newest);
    return { room, history, private: joined.private };
  };

  const ownerOf = async (room: RoomName): Promise<{ owner?: string }> => {
    const { owner } = await access.get(room);
    return owner === undefined ? {} : { owner };
  };

  const joinRoom: Admit = (user, room) => rooms.join(user, room);
  const createRoom: Admit = async (user, room, payload) => {
    assertNotGeneral(room);
    const isPrivate = parsePrivate(payload.private);
    await access.create(user, room, { private: isPrivate });
    return { private: isPrivate, created: true };
  };

  /** Live messages wait while the join reads history, so none is missed or sent twice. */
  const entering = (event: "room:join" | "room:create", admit: Admit) =>
    function (this: ChatSocket, payload: unknown, ack: unknown) {
      delivery
        .hold(this, (sent) => answer(log, event, ack, () => enter(this, payload, sent, admit)))
        // The join was answered; only the hold itself failed.
        .catch((err: Error) => log.warn({ err: err.message }, "room join: live delivery not confirmed in sync"));
    };

  return {
    "room:join": entering("room:join", joinRoom),
    "room:create": entering("room:create", createRoom),

    "room:leave": acked(log, "room:leave", async (socket, raw) => {
      const user = socket.data.user;
      const room = parseRoomName(objectPayload(raw).room);
      assertNotGeneral(room);
      await rooms.leave(user, room);
      // Leaving here at once makes the ack mean "nothing more from this room here" (a message
      // stored right after could otherwise still arrive); the other workers' sockets follow the signal.
      io.local.in(userChannel(user)).socketsLeave([room, memberWatchers(room)]);
      delivery.signal(user, { event: "room:left", data: { room }, except: socket.id });
      // An owner who leaves hands the room to another member (any): a room always has someone in charge.
      const heir = await access.handOver(room, user);
      delivery.memberUpdate({ room, user, change: "left", ...(heir === undefined ? await ownerOf(room) : { owner: heir }) });
      return {};
    }),

    // Old clients send {} and get the first page.
    "rooms:list": acked(log, "rooms:list", async (_socket, raw) => {
      const { cursor, limit } = objectPayload(raw);
      if (cursor !== undefined && !isRoomName(cursor)) throw invalid("cursor must be the `next` of a previous page");
      return rooms.list(cursor?.toLowerCase() as RoomName | undefined, parseLimit(limit, config.limits.roomsPage, config.limits.roomsPage));
    }),
  };
}
