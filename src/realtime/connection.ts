import { type Conversation, GENERAL_ROOM, type RoomName, userChannel } from "../domain/names.js";
import { AppError, invalid } from "../lib/errors.js";
import { createEventBudget } from "./budget.js";
import { catchUp, parseLastIds } from "./catch-up.js";
import type { ChatServer, ChatSocket, RealtimeDeps } from "./context.js";
import type { Delivery } from "./delivery.js";
import { editListeners } from "./edits.js";
import type { ClientToServerEvents } from "./events.js";
import { messageListeners } from "./messages.js";
import { type Announcer, presenceListeners } from "./presence.js";
import { mentionStep, readStateListeners } from "./read-state.js";
import { createAccessRelay, roomAdminListeners } from "./room-admin.js";
import { roomListeners } from "./rooms.js";
import { searchListeners } from "./search.js";
import { typingListeners } from "./typing.js";
import { answer, type Listeners, type SocketListener } from "./with-ack.js";

const OVER_BUDGET = new AppError("E_RATE_LIMITED", "too many events, slow down", 1);

/**
 * Builds, once per worker, what every new socket gets: the shared listeners first (synchronously,
 * so no early event is lost), then the async set-up.
 */
export function connectionHandler(
  io: ChatServer,
  deps: RealtimeDeps,
  delivery: Delivery,
  announcer: Announcer,
  draining: () => boolean,
): (socket: ChatSocket) => void {
  const listeners: Listeners = {
    ...roomListeners(io, deps, delivery),
    ...roomAdminListeners(deps, delivery, createAccessRelay(io, deps, delivery)),
    ...messageListeners(deps, mentionStep(deps, delivery)),
    ...presenceListeners(deps),
    ...typingListeners(deps, delivery),
    ...searchListeners(deps),
    ...readStateListeners(deps, delivery),
    ...editListeners(deps),
  };
  const { limits } = deps.config;
  const budget = createEventBudget({
    socketRate: limits.eventRate,
    socketBurst: limits.eventBurst,
    userRate: limits.userEventRate,
    userBurst: limits.userEventBurst,
  });
  const byEvent = new Map(Object.entries(listeners) as [keyof ClientToServerEvents, SocketListener][]);
  // One catch-all listener per socket instead of one per event: EventEmitter keeps a socket's
  // listeners in a dictionary that grows with them, on every idle socket (B4).
  // socket.io calls it with the socket as `this`, the event name first and the ack last.
  function dispatch(this: ChatSocket, event: string, ...args: unknown[]): void {
    this.data.activeAt = Date.now();
    // Every event, known or not, spends from the budget; a refused typing event is simply dropped.
    if (!budget.take(this)) {
      void answer(deps.log, event, args.at(-1), () => Promise.reject(OVER_BUDGET));
      return;
    }
    const listener = byEvent.get(event as keyof ClientToServerEvents);
    if (listener) listener.apply(this, args as Parameters<SocketListener>);
    else void answer(deps.log, event, args.at(-1), () => Promise.reject(invalid(`unknown event ${String(event).slice(0, 40)}`)));
  }
  /** Sockets counted in presence: only those must be subtracted when they disconnect. */
  const counted = new WeakSet<ChatSocket>();

  // socket.io emits "error" for malformed packets; without a listener that would be an uncaught error.
  const onError = (err: Error) => deps.log.debug({ err: err.message }, "socket error");
  function onDisconnect(this: ChatSocket): void {
    // A draining worker sends its clients to reconnect elsewhere: counted off one by one, a user
    // whose every tab was here would go offline and come back a second later, and every socket of
    // the cluster would be told twice. Its counts go at the end of the drain (presence.leave), once
    // the clients are counted on their new workers; only those that did not come back go offline.
    if (!counted.has(this) || draining()) return;
    const user = this.data.user;
    deps.presence.disconnect(user).then(
      (offline) => offline && announcer.changed([user]),
      (err: Error) => deps.log.warn({ err: err.message }, "presence update failed"),
    );
  }

  return (socket) => {
    socket.onAny(dispatch);
    socket.on("error", onError);
    socket.on("disconnect", onDisconnect);
    setUp(socket, deps, delivery)
      .then(async () => {
        if (!socket.connected) return;
        counted.add(socket);
        const connections = await deps.presence.connect(socket.data.user);
        if (connections === 1) announcer.changed([socket.data.user]);
        // The handshake's check cannot see connections that are still being set up alongside.
        if (connections > limits.socketsPerUser) socket.disconnect(true);
      })
      .catch((err: Error) => {
        deps.log.warn({ err: err.message }, "connection set-up failed; the client will reconnect");
        // Closing the transport (not socket.disconnect()) makes the client reconnect by itself.
        socket.conn.close();
      });
  };
}

/**
 * An owner's invitation or removal reaches the sockets in the user's channel; one made while this
 * socket was reading its rooms and joining that channel is seen by the second read instead. The
 * socket follows the second read, so no removed room stays joined until the next reconnect.
 */
async function settleMemberships(socket: ChatSocket, first: RoomName[], current: RoomName[], delivery: Delivery): Promise<RoomName[]> {
  const added = current.filter((room) => !first.includes(room));
  for (const room of first) if (room !== GENERAL_ROOM && !current.includes(room)) socket.leave(room);
  if (added.length > 0) {
    socket.join(added);
    await delivery.follow(socket, added);
  }
  return first.includes(GENERAL_ROOM) && !current.includes(GENERAL_ROOM) ? [GENERAL_ROOM, ...current] : current;
}

/** Joins the user's rooms, greets, and replays what the client missed before any live message. */
async function setUp(socket: ChatSocket, deps: RealtimeDeps, delivery: Delivery): Promise<void> {
  const { user } = socket.data;
  const lastIds = parseLastIds(socket.handshake.auth);
  // Read once: a reconnecting client's ids (up to 1,000 conversations) would otherwise stay with
  // the socket for its whole life.
  socket.handshake.auth = {};
  const rooms = await deps.rooms.roomsOf(user);
  if (!rooms.includes(GENERAL_ROOM)) {
    await deps.rooms.join(user, GENERAL_ROOM);
    rooms.unshift(GENERAL_ROOM);
  }
  await delivery.hold(socket, async (sent) => {
    socket.join([userChannel(user), ...rooms]);
    await delivery.follow(socket, rooms);
    // Others start direct conversations with this user at any time: their list is read only once
    // this worker hears the user's notices, so a new pair is either listed (followed and replayed
    // below) or announced after the read (followed then).
    const [directs, current] = await Promise.all([deps.rooms.directsOf(user), deps.rooms.roomsOf(user)]);
    const joined = await settleMemberships(socket, rooms, current, delivery);
    const [privateRooms] = await Promise.all([deps.access.privateAmong(joined), delivery.follow(socket, directs, { listed: true })]);
    socket.emit("welcome", { user, instance: deps.instance, rooms: joined, private: privateRooms, directs });
    const conversations: Conversation[] = [...joined, ...directs];
    await catchUp(socket, conversations, lastIds, deps.messages, deps.config.limits.catchupMax, sent);
  });
}
