import type { Message } from "../domain/messages.js";
import { type Conversation, usernameKey } from "../domain/names.js";
import { compareIds, timestampOf } from "../domain/stream-ids.js";
import { AppError } from "../lib/errors.js";
import type { Keys } from "./keys.js";
import { guarded, type Redis } from "./redis.js";
import { lua } from "./scripts.js";
import { maxDeletedId } from "./stream-info.js";

/** A message on its way into a conversation, addressed as the sender names it. */
export interface NewMessage {
  /** `#room` or `@recipient` as the sender addresses it. */
  to: Conversation;
  from: string;
  text: string;
  clientId: string;
}

export interface Appended {
  id: string;
  ts: number;
  /** false when this clientId was stored before: nothing new was written or delivered. */
  created: boolean;
}

/** The sender's budget, shared by all their sockets: `rate` messages per second, bursts of `burst`. */
export interface SendRate {
  rate: number;
  burst: number;
}

export interface Page {
  messages: Message[];
  /** The conversation lost messages older than the page to trimming since `after`. */
  truncated: boolean;
}

export interface MessageStore {
  /**
   * Stores once per (conversation, sender, clientId) and queues the message on the delivery feed,
   * atomically, if the sender's rate allows it. A retry of a stored message costs no token.
   * @throws AppError E_RATE_LIMITED.
   */
  append(message: NewMessage, rate: SendRate): Promise<Appended>;
  latest(conversation: Conversation, viewer: string, limit: number): Promise<Message[]>;
  before(conversation: Conversation, viewer: string, id: string, limit: number): Promise<Message[]>;
  after(conversation: Conversation, viewer: string, id: string, limit: number): Promise<Message[]>;
  /**
   * What a client that holds `lastId` missed, oldest first, or the latest page with truncated=true
   * when more than `max` are missing or some were trimmed away.
   */
  missedSince(conversation: Conversation, viewer: string, lastId: string, max: number): Promise<Page>;
}

export interface MessageStoreOptions {
  historyLimit: number;
  /** Entries kept on the delivery feed: how far a worker's feed reader may fall behind. */
  feedLimit: number;
  /** Seconds a clientId is remembered for deduplication. */
  dedupeSeconds: number;
}

// One round trip per send: dedupe, rate limit, store, remember the clientId and queue for delivery.
// A message is either stored and delivered to every worker in id order, or not stored at all. The
// conversation stream's id is the message id; the feed gets its own id (two streams may mint equal
// ids) and carries the message id. The token bucket runs on Redis's clock, shared by every worker.
const SEND = lua(`
local existing = redis.call('GET', KEYS[2])
if existing then return {existing, 0, 0} end
local rate, burst = tonumber(ARGV[8]), tonumber(ARGV[9])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[4], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if tokens < 1 then
  redis.call('HSET', KEYS[4], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('EXPIRE', KEYS[4], math.ceil(burst / rate) + 1)
  return {'', 0, math.ceil((1 - tokens) / rate * 1000)}
end
redis.call('HSET', KEYS[4], 'tokens', tostring(tokens - 1), 'at', tostring(now))
redis.call('EXPIRE', KEYS[4], math.ceil(burst / rate) + 1)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'from', ARGV[2], 'text', ARGV[3], 'cid', ARGV[4])
redis.call('SET', KEYS[2], id, 'EX', ARGV[5])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'id', id, 'to', ARGV[7], 'from', ARGV[2], 'text', ARGV[3], 'cid', ARGV[4])
return {id, 1, 0}`);

type StreamEntry = { id: string; message: Record<string, string> };

export function toMessage(entry: StreamEntry, conversation: Conversation): Message {
  const { from = "", text = "", cid = "" } = entry.message;
  return { id: entry.id, conversation, from, text, ts: timestampOf(entry.id), clientId: cid };
}

export function createMessageStore(redis: Redis, keys: Keys, options: MessageStoreOptions): MessageStore {
  // node-redis arms an AbortSignal timer for every command (5 s by default): 7 % of a worker's CPU
  // at a few thousand sends per second. Sends go without it: while Redis hangs they wait, and the
  // realtime layer's SEND_MAX_IN_FLIGHT bound refuses the ones beyond (E_RATE_LIMITED).
  const untimed = redis.withCommandOptions({ timeout: 0 }) as Redis;

  const read = async (conversation: Conversation, entries: Promise<StreamEntry[] | null>): Promise<Message[]> =>
    ((await guarded(() => entries)) ?? []).map((entry) => toMessage(entry, conversation));

  return {
    async append({ to, from, text, clientId }, rate) {
      const log = keys.log(to, from);
      const [id, created, waitMs] = (await guarded(() =>
        SEND.run(
          untimed,
          [log, keys.dedupe(log, from, clientId), keys.feed, keys.rate("send", usernameKey(from))],
          [
            String(options.historyLimit),
            from,
            text,
            clientId,
            String(options.dedupeSeconds),
            String(options.feedLimit),
            to,
            String(rate.rate),
            String(rate.burst),
          ],
        ),
      )) as [string, number, number];
      if (waitMs > 0) throw new AppError("E_RATE_LIMITED", "sending too fast, retry shortly", Math.ceil(waitMs / 1000));
      return { id, ts: timestampOf(id), created: created === 1 };
    },

    async latest(conversation, viewer, limit) {
      const page = await read(conversation, redis.xRevRange(keys.log(conversation, viewer), "+", "-", { COUNT: limit }));
      return page.reverse();
    },

    async before(conversation, viewer, id, limit) {
      const page = await read(conversation, redis.xRevRange(keys.log(conversation, viewer), `(${id}`, "-", { COUNT: limit }));
      return page.reverse();
    },

    after(conversation, viewer, id, limit) {
      return read(conversation, redis.xRange(keys.log(conversation, viewer), `(${id}`, "+", { COUNT: limit }));
    },

    async missedSince(conversation, viewer, lastId, max) {
      const log = keys.log(conversation, viewer);
      const [missedOrNull, deleted] = await guarded(() =>
        Promise.all([redis.xRange(log, `(${lastId}`, "+", { COUNT: max + 1 }), maxDeletedId(redis, log)]),
      );
      const missed = missedOrNull ?? [];
      const trimmed = compareIds(deleted, lastId) > 0;
      if (missed.length <= max && !trimmed) {
        return { messages: missed.map((entry) => toMessage(entry, conversation)), truncated: false };
      }
      return { messages: await this.latest(conversation, viewer, max), truncated: true };
    },
  };
}
