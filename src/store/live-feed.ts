import { setTimeout as sleep } from "node:timers/promises";
import type { StreamName } from "../domain/names.js";
import { compareIds } from "../domain/stream-ids.js";
import type { Logger } from "../lib/logger.js";
import type { Counters } from "../lib/metrics.js";
import type { Keys } from "./keys.js";
import {
  encodeLiveEvent,
  encodePresence,
  encodeTyping,
  fromEntry,
  type LiveEvent,
  type LiveMessage,
  type Notice,
  parseLive,
  parseLiveEvent,
  parseNotice,
  parsePresence,
  parseTyping,
  type StoredMessage,
} from "./live-wire.js";
import type { LiveSubscriber, Redis } from "./redis.js";
import { goneAfter } from "./stream-info.js";

export interface LiveFeedHandlers {
  /** Messages of one conversation, in id order; each reaches this worker once. */
  deliver(messages: StoredMessage[]): void;
  /** Messages of `stream` were trimmed before this worker delivered them: its sockets must catch up. */
  lost(stream: StreamName): void;
  /** A DM pair of a watched user has a message: the worker may not follow that pair yet. */
  noticed(user: string, notice: Notice): void;
  /** These users, members of a followed conversation, may have come online or gone offline. */
  presence(stream: StreamName, users: string[]): void;
  /** An event for the sockets of a followed room here (its member list changed). */
  roomEvent(stream: StreamName, event: LiveEvent): void;
  /** `user` is typing in a followed room. */
  typing(stream: StreamName, user: string): void;
  /** `from` is typing to `user`, a watched user, in their direct conversation. */
  typingTo(user: string, from: string): void;
  /** An event for every socket of `user`, a watched user. */
  userEvent(user: string, event: LiveEvent): void;
}

/**
 * A worker's live view of the conversations its sockets are in. Each subscribed conversation keeps
 * the id it delivered last (its cursor); a live message whose predecessor is another id means
 * something was missed (a lost publish, a reconnect, a subscription racing a send), and the
 * conversation is filled from its stream, the durable log, after the cursor.
 */
export interface LiveFeed {
  /**
   * Follows a conversation (nothing if already followed). It starts after the stream's tail as it
   * is once the subscription is in place, or, given `after`, delivers what the stream holds after
   * that id first.
   */
  subscribe(stream: StreamName, after?: string): void;
  /** Whether a conversation is followed here. */
  has(stream: StreamName): boolean;
  /** Fills a followed conversation from its stream if `id` is newer than what it delivered. */
  check(stream: StreamName, id: string): void;
  unsubscribe(stream: StreamName): void;
  /** Listens to the notices of a user's new DM pairs. */
  watchUser(user: string): void;
  unwatchUser(user: string): void;
  /**
   * Tells the workers that follow a room that `user` is typing in it, or those that watch `peer`
   * (a DM): only they have sockets to tell. Volatile: a failed publish is dropped.
   */
  signalTyping(to: { room: StreamName } | { peer: string }, user: string): void;
  /** Tells the workers that follow a conversation that these members' presence may have changed. Volatile, as typing. */
  signalPresence(stream: StreamName, users: readonly string[]): void;
  /** Tells the workers that follow a room an event for its sockets. Volatile, as typing. */
  signalRoom(room: StreamName, event: LiveEvent): void;
  /** Tells the workers that watch `user` an event for the user's sockets. Volatile, as typing. */
  signalUser(user: string, event: LiveEvent): void;
  /** Settles once these subscriptions are in place (and each conversation has its cursor). */
  ready(streams: readonly StreamName[], users: readonly string[]): Promise<void>;
  /** Settles once everything stored in `stream` up to `id` was delivered (at once if not subscribed). */
  syncTo(stream: StreamName, id: string): Promise<void>;
  /** How many conversations and users this worker listens to now. */
  size(): { streams: number; users: number };
  stop(): void;
}

interface Topic {
  stream: StreamName;
  channel: string;
  /** The id delivered last; undefined until the subscription is in place. */
  cursor: string | undefined;
  /** Live messages that arrived before the cursor was known or during a fill, handled after it. */
  waiting: LiveMessage[];
  fill: Promise<void> | undefined;
  ready: Promise<void>;
  closed: boolean;
}

const RETRY_MS = 100;
const RETRY_MAX_MS = 2000;
const FILL_PAGE = 500;

/**
 * @param live a dedicated subscriber: it holds only sharded pub/sub subscriptions (SSUBSCRIBE), one
 * channel per conversation, so on a Redis Cluster each goes to its conversation's shard.
 * @param redis reads the streams to fill gaps.
 */
export function createLiveFeed(
  live: LiveSubscriber,
  redis: Redis,
  keys: Keys,
  handlers: LiveFeedHandlers,
  log: Logger,
  counters: Counters,
): LiveFeed {
  const sub = live.client;
  const topics = new Map<StreamName, Topic>();
  const byChannel = new Map<string, Topic>();
  const users = new Map<string, { channel: string; ready: Promise<void>; closed: boolean }>();
  const userOfChannel = new Map<string, string>();
  let stopped = false;
  let warned = false;

  const failed = (what: string, err: unknown): void => {
    if (!warned) log.warn({ err: (err as Error).message }, `live delivery: ${what} failed; retrying`);
    warned = true;
  };
  /** Runs `step` until it succeeds or `gone()`: a subscription or a read must not be given up while wanted. */
  const retrying = async <T>(what: string, gone: () => boolean, step: () => Promise<T>): Promise<T | undefined> => {
    for (let attempt = 0; !gone() && !stopped; attempt++) {
      try {
        const value = await step();
        warned = false;
        return value;
      } catch (err) {
        failed(what, err);
        // Backs off, so an outage costs each conversation a few commands a second, not hundreds.
        await sleep(Math.min(RETRY_MS * 2 ** attempt, RETRY_MAX_MS));
      }
    }
    return undefined;
  };

  const deliver = (topic: Topic, messages: StoredMessage[]): void => {
    const last = messages.at(-1);
    if (last === undefined) return;
    topic.cursor = last.id;
    handlers.deliver(messages);
  };

  /** Reads the stream after the cursor up to its tail, page by page, and delivers what it finds. */
  const runFill = async (topic: Topic): Promise<void> => {
    counters.liveGapFills++;
    const log = keys.logOf(topic.stream);
    let first = true;
    const gone = () => topic.closed;
    for (;;) {
      const cursor = topic.cursor ?? "0-0";
      const read = await retrying("gap fill", gone, () =>
        Promise.all([redis.xRange(log, `(${cursor}`, "+", { COUNT: FILL_PAGE }), first && goneAfter(redis, log, cursor)]),
      );
      if (read === undefined) return;
      const [entries, trimmed] = read;
      const page = entries ?? [];
      first = false;
      if (trimmed) {
        // Trimmed past the cursor: only a catch-up by the clients' own last ids can tell what they miss.
        const tail = await retrying("gap fill", gone, () => redis.xRevRange(log, "+", "-", { COUNT: 1 }));
        topic.cursor = tail?.[0]?.id ?? cursor;
        handlers.lost(topic.stream);
        return;
      }
      deliver(
        topic,
        page.map((entry) => fromEntry(topic.stream, entry)),
      );
      if (page.length < FILL_PAGE || topic.closed) return;
    }
  };

  const fill = (topic: Topic): Promise<void> => {
    topic.fill ??= runFill(topic).finally(() => {
      topic.fill = undefined;
      drain(topic);
    });
    return topic.fill;
  };

  const accept = (topic: Topic, live: LiveMessage): void => {
    const cursor = topic.cursor ?? "0-0";
    if (compareIds(live.message.id, cursor) <= 0) return; // a fill delivered it already
    if (live.prev === cursor) deliver(topic, [live.message]);
    else void fill(topic); // the fill reads this message too
  };

  const drain = (topic: Topic): void => {
    while (topic.waiting.length > 0 && topic.fill === undefined && topic.cursor !== undefined && !topic.closed) {
      accept(topic, topic.waiting.shift() as LiveMessage);
    }
  };

  const onLive = (payload: string, channel: string): void => {
    const topic = byChannel.get(channel);
    if (topic === undefined || topic.closed) return;
    const typist = parseTyping(payload);
    if (typist !== undefined) {
      handlers.typing(topic.stream, typist);
      return;
    }
    const changed = parsePresence(payload);
    if (changed !== undefined) {
      handlers.presence(topic.stream, changed);
      return;
    }
    const event = parseLiveEvent(payload);
    if (event !== undefined) {
      handlers.roomEvent(topic.stream, event);
      return;
    }
    counters.liveReceived++;
    const live = parseLive(topic.stream, payload);
    if (live === undefined) {
      log.warn({ channel }, "live delivery: malformed message ignored");
      return;
    }
    if (topic.cursor === undefined || topic.fill !== undefined) topic.waiting.push(live);
    else accept(topic, live);
  };

  const onNotice = (payload: string, channel: string): void => {
    const user = userOfChannel.get(channel);
    if (user === undefined) return;
    const typist = parseTyping(payload);
    if (typist !== undefined) {
      handlers.typingTo(user, typist);
      return;
    }
    const event = parseLiveEvent(payload);
    if (event !== undefined) {
      handlers.userEvent(user, event);
      return;
    }
    const notice = parseNotice(payload);
    if (notice !== undefined) handlers.noticed(user, notice);
  };

  const open = async (topic: Topic, after: string | undefined): Promise<void> => {
    const gone = () => topic.closed;
    await retrying("subscribe", gone, () => sub.sSubscribe(topic.channel, onLive));
    if (topic.closed) return;
    if (after === undefined) {
      // Read once the subscription is in place: every later message arrives live.
      const tail = await retrying("subscribe", gone, () => redis.xRevRange(keys.logOf(topic.stream), "+", "-", { COUNT: 1 }));
      if (tail === undefined) return;
      topic.cursor = tail?.[0]?.id ?? "0-0";
      drain(topic);
    } else {
      topic.cursor = after;
      await fill(topic);
    }
  };

  // The subscriber came back: node-redis has restored every subscription before "ready", but what
  // was published meanwhile is lost, so every conversation is filled from its stream.
  const reconnected = (): void => {
    for (const topic of topics.values()) if (topic.cursor !== undefined) void fill(topic);
  };
  const stopHearing = live.onRestored(reconnected);

  return {
    subscribe(stream, after) {
      if (topics.has(stream)) return;
      if (stopped) return;
      const channel = keys.live(stream);
      const topic: Topic = { stream, channel, cursor: undefined, waiting: [], fill: undefined, ready: Promise.resolve(), closed: false };
      topics.set(stream, topic);
      byChannel.set(channel, topic);
      topic.ready = open(topic, after);
    },

    has: (stream) => topics.has(stream),

    check(stream, id) {
      const topic = topics.get(stream);
      if (topic === undefined) return;
      void topic.ready.then(() => {
        if (!topic.closed && compareIds(id, topic.cursor ?? "0-0") > 0) void fill(topic);
      });
    },

    unsubscribe(stream) {
      const topic = topics.get(stream);
      if (topic === undefined) return;
      topic.closed = true;
      topic.waiting = [];
      topics.delete(stream);
      byChannel.delete(topic.channel);
      sub.sUnsubscribe(topic.channel, onLive).catch(() => undefined); // gone with the connection anyway
    },

    watchUser(user) {
      if (users.has(user) || stopped) return;
      const channel = keys.notices(user);
      const watch = { channel, ready: Promise.resolve(), closed: false };
      users.set(user, watch);
      userOfChannel.set(channel, user);
      watch.ready = retrying(
        "subscribe",
        () => watch.closed,
        () => sub.sSubscribe(channel, onNotice),
      ).then(() => undefined);
    },

    unwatchUser(user) {
      const watch = users.get(user);
      if (watch === undefined) return;
      watch.closed = true;
      users.delete(user);
      userOfChannel.delete(watch.channel);
      sub.sUnsubscribe(watch.channel, onNotice).catch(() => undefined);
    },

    signalTyping(to, user) {
      const channel = "room" in to ? keys.live(to.room) : keys.notices(to.peer);
      redis.sPublish(channel, encodeTyping(user)).catch(() => undefined);
    },

    signalPresence(stream, users) {
      redis.sPublish(keys.live(stream), encodePresence(users)).catch(() => undefined);
    },

    signalRoom(room, event) {
      redis.sPublish(keys.live(room), encodeLiveEvent(event)).catch(() => undefined);
    },

    signalUser(user, event) {
      redis.sPublish(keys.notices(user), encodeLiveEvent(event)).catch(() => undefined);
    },

    async ready(streams, names) {
      await Promise.all([...streams.map((stream) => topics.get(stream)?.ready), ...names.map((user) => users.get(user)?.ready)]);
    },

    async syncTo(stream, id) {
      const topic = topics.get(stream);
      if (topic === undefined) return;
      await topic.ready;
      if (topic.fill !== undefined) await topic.fill;
      if (topic.closed || compareIds(topic.cursor ?? "0-0", id) >= 0) return;
      await fill(topic);
    },

    size: () => ({ streams: topics.size, users: users.size }),

    stop() {
      stopped = true;
      for (const topic of topics.values()) topic.closed = true;
      for (const watch of users.values()) watch.closed = true;
      stopHearing();
    },
  };
}
