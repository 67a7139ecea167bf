import { assertNotGeneral, parseRoomName, userChannel } from "../domain/names.js";
import type { ChatServer, ChatSocket, RealtimeDeps } from "./context.js";
import { type Delivery, sentKey } from "./delivery.js";
import { objectPayload, withAck } from "./with-ack.js";

const LIST_MAX = 500;

export function registerRooms(io: ChatServer, socket: ChatSocket, deps: RealtimeDeps, delivery: Delivery): void {
  const { log, rooms, messages, config } = deps;
  const user = socket.data.user;
  const others = () => io.in(userChannel(user)).except(socket.id);

  socket.on("room:join", (payload, ack) =>
    delivery.hold(socket, (sent) =>
      withAck(log, "room:join", async (raw) => {
        const room = parseRoomName(objectPayload(raw).room);
        await rooms.join(user, room);
        socket.join(room);
        // The user's other tabs, on any worker, follow the join live; they load history themselves.
        others().socketsJoin(room);
        others().emit("room:joined", { room });
        const history = await messages.latest(room, user, config.limits.historyPage);
        const newest = history.at(-1)?.id;
        if (newest !== undefined) sent.set(sentKey(room), newest);
        return { room, history };
      })(payload, ack),
    ),
  );

  socket.on(
    "room:leave",
    withAck(log, "room:leave", async (raw) => {
      const room = parseRoomName(objectPayload(raw).room);
      assertNotGeneral(room);
      await rooms.leave(user, room);
      // The redis adapter applies socketsLeave even to this worker's sockets only once its request
      // has come back through Redis; leaving locally first makes the ack mean "nothing more from
      // this room here" (a message stored right after could otherwise still arrive).
      io.local.in(userChannel(user)).socketsLeave(room);
      io.in(userChannel(user)).socketsLeave(room);
      others().emit("room:left", { room });
      return {};
    }),
  );

  socket.on(
    "rooms:list",
    withAck(log, "rooms:list", async () => ({ rooms: await rooms.list(LIST_MAX) })),
  );
}
