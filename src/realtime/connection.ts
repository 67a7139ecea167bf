import { type Conversation, GENERAL_ROOM, userChannel } from "../domain/names.js";
import { catchUp, parseLastIds } from "./catch-up.js";
import { type ChatServer, type ChatSocket, type RealtimeDeps, sessionChannel } from "./context.js";
import type { Delivery } from "./delivery.js";
import { registerMessages } from "./messages.js";
import { type Announcer, registerPresence } from "./presence.js";
import { registerRooms } from "./rooms.js";
import { registerTyping } from "./typing.js";

/** Handlers first (synchronously, so no early event is lost), then the async set-up. */
export function onConnection(io: ChatServer, socket: ChatSocket, deps: RealtimeDeps, delivery: Delivery, announcer: Announcer): void {
  registerRooms(io, socket, deps, delivery);
  registerMessages(socket, deps);
  registerPresence(socket, deps);
  registerTyping(io, socket, deps);
  // socket.io emits "error" for malformed packets; without a listener that would be an uncaught error.
  socket.on("error", (err) => deps.log.debug({ err: err.message }, "socket error"));

  let counted = false;
  socket.on("disconnect", () => {
    if (!counted) return;
    deps.presence.disconnect(socket.data.user).then(
      (offline) => offline && announcer.changed([socket.data.user]),
      (err: Error) => deps.log.warn({ err: err.message }, "presence update failed"),
    );
  });

  setUp(socket, deps, delivery)
    .then(async () => {
      if (!socket.connected) return;
      counted = true;
      if (await deps.presence.connect(socket.data.user)) announcer.changed([socket.data.user]);
    })
    .catch((err: Error) => {
      deps.log.warn({ err: err.message }, "connection set-up failed; the client will reconnect");
      // Closing the transport (not socket.disconnect()) makes the client reconnect by itself.
      socket.conn.close();
    });
}

/** Joins the user's rooms, greets, and replays what the client missed before any live message. */
async function setUp(socket: ChatSocket, deps: RealtimeDeps, delivery: Delivery): Promise<void> {
  const { user, sessionId } = socket.data;
  const lastIds = parseLastIds(socket.handshake.auth);
  const [rooms, directs] = await Promise.all([deps.rooms.roomsOf(user), deps.rooms.directsOf(user)]);
  if (!rooms.includes(GENERAL_ROOM)) {
    await deps.rooms.join(user, GENERAL_ROOM);
    rooms.unshift(GENERAL_ROOM);
  }
  await delivery.hold(socket, async (sent) => {
    socket.join([userChannel(user), sessionChannel(sessionId), ...rooms]);
    socket.emit("welcome", { user, instance: deps.instance, rooms, directs });
    const conversations: Conversation[] = [...rooms, ...directs];
    await catchUp(socket, conversations, lastIds, deps.messages, deps.config.limits.catchupMax, sent);
  });
}
