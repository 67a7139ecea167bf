import type { Message } from "../domain/messages.js";
import { type Conversation, isDirect, peerOf, usernameKey } from "../domain/names.js";
import { compareIds, timestampOf } from "../domain/stream-ids.js";
import { AppError } from "../lib/errors.js";
import type { Keys } from "./keys.js";
import { guarded, type Redis } from "./redis.js";
import type { ReplicaConfirmer } from "./replication.js";
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
   * Stores once per (conversation, sender, clientId), lists a direct conversation on both sides and
   * queues the message on the delivery feed, atomically, if the sender's rate allows it. A retry of
   * a stored message costs no token.
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
  /** Waits for replicas after a batch is stored, before it is acknowledged (REDIS_WAIT_REPLICAS). */
  replicas?: ReplicaConfirmer;
}

// One script per batch of sends (those that arrived in one event-loop iteration): per message,
// dedupe, rate limit, store, remember the clientId, list a direct conversation on both sides and
// queue for delivery. A message is either stored and delivered to every worker in id order, or not
// stored at all. The direct conversation is listed in the same step because a reconnecting
// recipient reads its list to catch up: listed any later, a first message that its worker's feed
// reader delivered before the socket joined would be neither replayed nor delivered. The conversation
// stream's id is the message id; the feed gets its own id (two streams may mint equal ids) and
// carries the message id. The rate limit is a GCRA (one integer per sender: the time, in µs on
// Redis's clock, at which their budget is full again), shared by every worker and host. Each
// redis.call costs a few µs of Redis CPU, so the script makes as few as it can.
// KEYS: feed, then per message: log, dedupe, rate, sender's directs, recipient's directs (for a
// room, the sender's twice, untouched). ARGV: history limit, dedupe seconds, feed limit, then per
// message: from, text, clientId, to, interval µs, burst window µs.
// Returns, per message: id ('' when refused), created (1/0), ms to wait (refused).
const SEND = lua(`
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local out = {}
for i = 0, (#KEYS - 1) / 5 - 1 do
  local log, dedupe, rate = KEYS[2 + 5 * i], KEYS[3 + 5 * i], KEYS[4 + 5 * i]
  local a = 4 + 6 * i
  local existing = redis.call('GET', dedupe)
  if existing then
    out[#out + 1] = existing; out[#out + 1] = 0; out[#out + 1] = 0
  else
    local full = math.max(tonumber(redis.call('GET', rate)) or now, now) + tonumber(ARGV[a + 4])
    local over = full - now - tonumber(ARGV[a + 5])
    if over > 0 then
      out[#out + 1] = ''; out[#out + 1] = 0; out[#out + 1] = math.ceil(over / 1000)
    else
      redis.call('SET', rate, full, 'PX', math.ceil((full - now) / 1000))
      local id = redis.call('XADD', log, 'MAXLEN', '~', ARGV[1], '*', 'from', ARGV[a], 'text', ARGV[a + 1], 'cid', ARGV[a + 2])
      redis.call('SET', dedupe, id, 'EX', ARGV[2])
      if string.sub(ARGV[a + 3], 1, 1) == '@' then
        redis.call('SADD', KEYS[5 + 5 * i], ARGV[a + 3])
        redis.call('SADD', KEYS[6 + 5 * i], '@' .. ARGV[a])
      end
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'id', id, 'to', ARGV[a + 3], 'from', ARGV[a], 'text', ARGV[a + 1], 'cid', ARGV[a + 2])
      out[#out + 1] = id; out[#out + 1] = 1; out[#out + 1] = 0
    end
  end
end
return out`);

/** Sends per script run: bounds how long one run holds Redis (a few µs per message). */
const SEND_BATCH_MAX = 64;

interface PendingSend {
  message: NewMessage;
  rate: SendRate;
  resolve(appended: Appended): void;
  reject(err: unknown): void;
}

type StreamEntry = { id: string; message: Record<string, string> };

export function toMessage(entry: StreamEntry, conversation: Conversation): Message {
  const { from = "", text = "", cid = "" } = entry.message;
  return { id: entry.id, conversation, from, text, ts: timestampOf(entry.id), clientId: cid };
}

export function createMessageStore(redis: Redis, keys: Keys, options: MessageStoreOptions): MessageStore {
  const read = async (conversation: Conversation, entries: Promise<StreamEntry[] | null>): Promise<Message[]> =>
    ((await guarded(() => entries)) ?? []).map((entry) => toMessage(entry, conversation));

  let pending: PendingSend[] = [];
  const { replicas } = options;

  const runBatch = async (batch: PendingSend[]): Promise<void> => {
    const scriptKeys = [keys.feed];
    const scriptArgs = [String(options.historyLimit), String(options.dedupeSeconds), String(options.feedLimit)];
    for (const { message, rate } of batch) {
      const log = keys.log(message.to, message.from);
      const senderDirects = keys.userDirects(message.from);
      const recipientDirects = isDirect(message.to) ? keys.userDirects(peerOf(message.to)) : senderDirects;
      scriptKeys.push(log, keys.dedupe(log, message.from, message.clientId), keys.rate("send", usernameKey(message.from)));
      scriptKeys.push(senderDirects, recipientDirects);
      const interval = Math.max(1, Math.ceil(1_000_000 / rate.rate));
      scriptArgs.push(message.from, message.text, message.clientId, message.to, String(interval), String(interval * rate.burst));
    }
    try {
      const replies = (await guarded(() => SEND.run(redis, scriptKeys, scriptArgs))) as (string | number)[];
      if (replicas) await guarded(() => replicas.confirm());
      batch.forEach((send, i) => {
        const [id, created, waitMs] = [String(replies[3 * i]), Number(replies[3 * i + 1]), Number(replies[3 * i + 2])];
        if (waitMs > 0) send.reject(new AppError("E_RATE_LIMITED", "sending too fast, retry shortly", Math.ceil(waitMs / 1000)));
        else send.resolve({ id, ts: timestampOf(id), created: created === 1 });
      });
    } catch (err) {
      for (const send of batch) send.reject(err);
    }
  };

  /** The sends of one event-loop iteration share a script run (one command, one Redis call). */
  const flush = (): void => {
    const all = pending;
    pending = [];
    for (let i = 0; i < all.length; i += SEND_BATCH_MAX) void runBatch(all.slice(i, i + SEND_BATCH_MAX));
  };

  return {
    append(message, rate) {
      return new Promise<Appended>((resolve, reject) => {
        if (pending.length === 0) setImmediate(flush);
        pending.push({ message, rate, resolve, reject });
      });
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
