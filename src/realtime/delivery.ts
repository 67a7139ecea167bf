import type { ConversationEvent } from "../domain/edits.js";
import { type Conversation, isDirect, pairOf, type StreamName, streamOf, userChannel, usernameKey } from "../domain/names.js";
import { compareIds } from "../domain/stream-ids.js";
import { AppError } from "../lib/errors.js";
import type { Counters } from "../lib/metrics.js";
import type { LiveFeed, LiveFeedHandlers } from "../store/live-feed.js";
import type { StoredMessage } from "../store/live-wire.js";
import type { ChatServer, ChatSocket } from "./context.js";
import { emitEvent, liveEvent } from "./edits.js";
import type { MemberUpdate } from "./events.js";
import { applyMemberUpdate, applySignal, parseMemberUpdate, parseSignal, type UserSignal } from "./signals.js";

/** Sockets in this (local) room get live messages queued instead of sent: see Delivery.hold. */
const HOLDING = "~holding";

/** The newest message id a socket has been sent, per conversation (lower-cased), during a hold. */
export type Sent = Map<string, string>;

/** Opens the worker's live feed, which calls back into delivery. */
export type OpenFeed = (handlers: LiveFeedHandlers) => LiveFeed;

export interface Delivery {
  /**
   * Settles once this worker hears live every conversation of `conversations` (rooms the socket
   * has joined, DMs as its user names them) and the notices of its user's new DM pairs.
   * `listed`: these are all of the user's DM pairs, as read once the socket joined its user's channel.
   * @throws AppError E_UNAVAILABLE when that cannot be set up in time (Redis is down).
   */
  follow(socket: ChatSocket, conversations: readonly Conversation[], options?: { listed?: boolean }): Promise<void>;
  /**
   * Runs `work` (a catch-up, a room join) while live messages for this socket are queued, then
   * sends the queued ones it has not sent yet, so the socket sees each conversation exactly once
   * and in id order. Holds of one socket run one after the other.
   */
  hold(socket: ChatSocket, work: (sent: Sent) => Promise<void>): Promise<void>;
  /**
   * Shows that `user` is typing to the other members of a room or to the peer of a DM, through
   * the conversation's channel: only workers with sockets in it hear it.
   */
  typing(to: { room: StreamName } | { peer: string }, user: string): void;
  /**
   * Tells every socket of `user`, on every worker, through the user's notice channel: only workers
   * with a socket of the user hear it, this one included.
   */
  signal(user: string, signal: UserSignal): void;
  /** Tells the sockets that watch a room's member list, on every worker, that it changed. */
  memberUpdate(update: MemberUpdate): void;
  /** Tells the workers that follow a conversation that these members may have come online or gone offline. */
  presence(stream: StreamName, users: readonly string[]): void;
  stop(): void;
}

/** How a stored message reaches sockets: to whom, and named how from their side. */
export function routesOf(message: Pick<StoredMessage, "to" | "from">): { channel: string; conversation: Conversation }[] {
  if (!isDirect(message.to)) return [{ channel: message.to, conversation: message.to }];
  const sender = { channel: userChannel(message.from), conversation: message.to };
  const recipient = { channel: userChannel(message.to.slice(1)), conversation: `@${message.from}` as Conversation };
  return sender.channel === recipient.channel ? [sender] : [recipient, sender];
}

export const sentKey = (conversation: string): string => conversation.toLowerCase();

/** How long a socket's set-up waits for its subscriptions, and a hold for its conversations' fills. */
const FOLLOW_TIMEOUT_MS = 10_000;
const SYNC_TIMEOUT_MS = 3000;

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError("E_UNAVAILABLE", "live delivery is not ready, retry shortly")), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Delivers each conversation's messages to this worker's sockets. The worker subscribes to a
 * conversation while one of its sockets is a member: a room while its socket.io room exists here,
 * a DM pair while a socket of either user is here and the pair is known (listed when the socket
 * connected, or announced on the user's notice channel since).
 */
export function createDelivery(
  io: ChatServer,
  openFeed: OpenFeed,
  counters: Counters,
  heardPresence: (stream: StreamName, users: string[]) => void,
): Delivery {
  const queues = new Map<string, { socket: ChatSocket; queue: ConversationEvent[] }>();
  const chains = new WeakMap<ChatSocket, Promise<void>>();
  const adapter = io.of("/").adapter;
  /** The DM pairs followed for each user (lower-case) with a socket here. */
  const pairsOf = new Map<string, Set<StreamName>>();

  const deliverOne = (message: StoredMessage): void => {
    for (const { channel, conversation } of routesOf(message)) {
      // A DM pair is followed for either user; the other may have no socket here.
      const here = adapter.rooms.get(channel)?.size ?? 0;
      if (here === 0) continue;
      const out = liveEvent(message, conversation);
      // Excluding a room costs a set computation per broadcast: only when someone is holding.
      const local = io.local.to(channel);
      emitEvent(queues.size > 0 ? local.except(HOLDING) : local, out);
      counters.messagesDelivered += here;
      for (const held of queues.values()) if (held.socket.rooms.has(channel)) held.queue.push(out);
    }
  };

  /** Sends the sockets of a conversation to reconnect: they catch up from their own last ids. */
  const reconnect = (stream: StreamName): void => {
    const pair = pairOf(stream);
    const channels = pair === undefined ? [stream] : pair.map(userChannel);
    for (const channel of channels) {
      for (const id of adapter.rooms.get(channel) ?? []) io.of("/").sockets.get(id)?.conn.close();
    }
  };

  const socketsOf = (user: string): number => adapter.rooms.get(userChannel(user))?.size ?? 0;
  /** Sockets that joined their user's channel and have not listed their DM pairs yet. */
  const listing = new Set<string>();
  /** Whether every socket of these users here but `self` will list its pairs, and so catch them up itself. */
  const othersWillList = (users: readonly string[], self: string): boolean =>
    users.every((user) => [...(adapter.rooms.get(userChannel(user)) ?? [])].every((id) => id === self || listing.has(id)));

  /** Records that `user` follows a DM pair; false when the user has no socket here any more. */
  const followPair = (user: string, stream: StreamName): boolean => {
    if (socketsOf(user) === 0) return false;
    let pairs = pairsOf.get(user);
    if (pairs === undefined) {
      pairs = new Set();
      pairsOf.set(user, pairs);
    }
    pairs.add(stream);
    return true;
  };

  const feed = openFeed({
    deliver: (messages) => {
      for (const message of messages) deliverOne(message);
    },
    lost: reconnect,
    // A pair this worker does not follow yet is new to every socket of its users here: they get it
    // from its first message on.
    noticed: (user, notice) => {
      if (!followPair(user, notice.stream)) return;
      if (feed.has(notice.stream)) feed.check(notice.stream, notice.id);
      else feed.subscribe(notice.stream, "0-0");
    },
    presence: heardPresence,
    // Typing is volatile: a socket that cannot take it now (a slow transport) does not get it later.
    typing: (stream, user) => {
      io.local
        .to(stream)
        .except(userChannel(user))
        .volatile.emit("typing", { conversation: stream as Conversation, user });
    },
    typingTo: (user, from) => {
      io.local.to(userChannel(user)).volatile.emit("typing", { conversation: `@${from}`, user: from });
    },
    roomEvent: (stream, event) => {
      const update = parseMemberUpdate(stream, event);
      if (update !== undefined) applyMemberUpdate(io, update);
    },
    userEvent: (user, event) => {
      const signal = parseSignal(event);
      if (signal !== undefined) applySignal(io, user, signal);
    },
  });

  /** The user's last socket here is gone: a pair stays followed while the other user has one. */
  const dropUser = (user: string): void => {
    feed.unwatchUser(user);
    const pairs = pairsOf.get(user);
    pairsOf.delete(user);
    for (const stream of pairs ?? []) {
      const [a, b] = pairOf(stream) ?? [user, user];
      const other = a === user ? b : a;
      if (other === user || !followPair(other, stream)) feed.unsubscribe(stream);
    }
  };

  adapter.on("join-room", (room: string, id: string) => {
    if (room.startsWith("@")) listing.add(id);
  });
  adapter.on("leave-room", (room: string, id: string) => {
    if (room.startsWith("@")) listing.delete(id);
  });
  // socket.io's adapter tells when a room gets its first socket here and when it loses its last.
  adapter.on("create-room", (room: string) => {
    if (room.startsWith("#")) feed.subscribe(room as StreamName);
    else if (room.startsWith("@")) feed.watchUser(room.slice(1));
  });
  adapter.on("delete-room", (room: string) => {
    if (room.startsWith("#")) feed.unsubscribe(room as StreamName);
    else if (room.startsWith("@")) dropUser(room.slice(1));
  });

  const runHold = async (socket: ChatSocket, work: (sent: Sent) => Promise<void>): Promise<void> => {
    const sent: Sent = new Map();
    const held = { socket, queue: [] as ConversationEvent[] };
    queues.set(socket.id, held);
    socket.join(HOLDING);
    try {
      await work(sent);
      // A message the work already sent must not come again live: the feed delivers everything up
      // to it before the hold ends. If Redis fails meanwhile, the hold ends anyway.
      const user = socket.data.user;
      const synced = [...sent].map(([conversation, id]) => feed.syncTo(streamOf(conversation as Conversation, user), id));
      await within(Promise.all(synced), SYNC_TIMEOUT_MS).catch(() => undefined);
    } finally {
      queues.delete(socket.id);
      socket.leave(HOLDING);
      for (const event of held.queue) {
        const last = sent.get(sentKey(event.payload.conversation));
        if (last !== undefined && compareIds(event.payload.id, last) <= 0) continue;
        emitEvent(socket, event);
      }
    }
  };

  return {
    async follow(socket, conversations, { listed = false } = {}) {
      const user = usernameKey(socket.data.user);
      const streams = conversations.map((conversation) => streamOf(conversation, user));
      for (const stream of streams) {
        const pair = pairOf(stream);
        if (pair === undefined || !followPair(user, stream) || feed.has(stream)) continue;
        // Listed, yet not followed here: another socket of either user here that has listed its
        // pairs did so before this one existed and needs all of it; the others catch up themselves.
        feed.subscribe(stream, othersWillList(pair, socket.id) ? undefined : "0-0");
      }
      if (listed) listing.delete(socket.id);
      await within(feed.ready(streams, [user]), FOLLOW_TIMEOUT_MS);
    },
    hold(socket, work) {
      const previous = chains.get(socket) ?? Promise.resolve();
      const next = previous.then(() => (socket.connected ? runHold(socket, work) : undefined));
      // The last hold of a socket removes its chain: an idle socket keeps none (B4).
      const settled: Promise<void> = next
        .catch(() => undefined)
        .then(() => {
          if (chains.get(socket) === settled) chains.delete(socket);
        });
      chains.set(socket, settled);
      return next;
    },
    typing: (to, user) => feed.signalTyping(to, user),
    signal: (user, signal) => feed.signalUser(user, signal),
    presence: (stream, users) => feed.signalPresence(stream, users),
    memberUpdate: (update) => feed.signalRoom(update.room as StreamName, { event: "room:member", data: update }),
    stop: () => feed.stop(),
  };
}
