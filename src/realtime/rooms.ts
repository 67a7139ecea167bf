import { parseLimit } from "../domain/messages.js";
import { assertNotGeneral, isRoomName, parseRoomName, type RoomName, userChannel } from "../domain/names.js";
import { invalid } from "../lib/errors.js";
import type { ChatServer, ChatSocket, RealtimeDeps } from "./context.js";
import { type Delivery, type Sent, sentKey } from "./delivery.js";
import { acked, answer, type Listeners, objectPayload } from "./with-ack.js";

export function roomListeners(io: ChatServer, deps: RealtimeDeps, delivery: Delivery): Listeners {
  const { log, rooms, messages, config } = deps;
  /** The user's other sockets, on every worker. */
  const othersOf = (socket: ChatSocket) => io.in(userChannel(socket.data.user)).except(socket.id);

  const join = async (socket: ChatSocket, raw: unknown, sent: Sent) => {
    const user = socket.data.user;
    const room = parseRoomName(objectPayload(raw).room);
    await rooms.join(user, room);
    socket.join(room);
    await delivery.follow(socket, [room]);
    // The user's other tabs, on any worker, follow the join live; they load history themselves.
    othersOf(socket).socketsJoin(room);
    othersOf(socket).emit("room:joined", { room });
    const history = await messages.latest(room, user, config.limits.historyPage);
    const newest = history.at(-1)?.id;
    if (newest !== undefined) sent.set(sentKey(room), newest);
    return { room, history };
  };

  return {
    // Live messages wait while the join reads history, so none is missed or sent twice.
    "room:join"(payload, ack) {
      delivery
        .hold(this, (sent) => answer(log, "room:join", ack, () => join(this, payload, sent)))
        // The join was answered; only the hold itself failed.
        .catch((err: Error) => log.warn({ err: err.message }, "room join: live delivery not confirmed in sync"));
    },

    "room:leave": acked(log, "room:leave", async (socket, raw) => {
      const user = socket.data.user;
      const room = parseRoomName(objectPayload(raw).room);
      assertNotGeneral(room);
      await rooms.leave(user, room);
      // The redis adapter applies socketsLeave even to this worker's sockets only once its request
      // has come back through Redis; leaving locally first makes the ack mean "nothing more from
      // this room here" (a message stored right after could otherwise still arrive).
      io.local.in(userChannel(user)).socketsLeave(room);
      io.in(userChannel(user)).socketsLeave(room);
      othersOf(socket).emit("room:left", { room });
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
