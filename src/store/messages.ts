import type { Message } from "../domain/messages.js";
import { type Conversation, isDirect, peerOf, type StreamName, streamOf, usernameKey } from "../domain/names.js";
import { compareIds, timestampOf } from "../domain/stream-ids.js";
import { AppError } from "../lib/errors.js";
import type { Keys } from "./keys.js";
import { encodeNotice } from "./live-wire.js";
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
   * publishes the message on its conversation's live channel, atomically, if the sender's rate
   * allows it. A retry of a stored message costs no token.
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
  /** Seconds a clientId is remembered for deduplication. */
  dedupeSeconds: number;
  /** Waits for replicas after a batch is stored, before it is acknowledged (REDIS_WAIT_REPLICAS). */
  replicas?: ReplicaConfirmer;
}

// One script per batch of sends (those that arrived in one event-loop iteration): per message,
// dedupe, rate limit, store, remember the clientId, list a direct conversation on both sides and
// publish it on its conversation's live channel with the id of its predecessor in the stream, so
// a subscribed worker sees a gap (live-feed.ts). A message is either stored and published, or not
// stored at all. The direct conversation is listed in the same step because a reconnecting
// recipient reads its list to catch up. The rate limit is a GCRA (one integer per sender: the
// time, in µs on Redis's clock, at which their budget is full again), shared by every worker and
// host. Each redis.call costs a few µs of Redis CPU, so the script makes as few as it can.
// KEYS per message: log, dedupe, rate, sender's directs, recipient's directs (for a room, the
// sender's twice, untouched), live channel. ARGV: history limit, dedupe seconds, then per message:
// from, text, clientId, to, interval µs, burst window µs.
// Returns, per message: id ('' when refused), created (1/0), ms to wait (refused), the id before
// it in its stream ('0-0' if none), 1 when it opened a direct conversation on either side.
const SEND = lua(`
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local out = {}
local newest = {}
for i = 0, #KEYS / 6 - 1 do
  local log, dedupe, rate, live = KEYS[1 + 6 * i], KEYS[2 + 6 * i], KEYS[3 + 6 * i], KEYS[6 + 6 * i]
  local a = 3 + 6 * i
  local from, text, cid, to = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local existing = redis.call('GET', dedupe)
  if existing then
    local before = redis.call('XREVRANGE', log, '(' .. existing, '-', 'COUNT', 1)
    out[#out + 1] = existing; out[#out + 1] = 0; out[#out + 1] = 0
    out[#out + 1] = before[1] and before[1][1] or '0-0'; out[#out + 1] = 0
  else
    local full = math.max(tonumber(redis.call('GET', rate)) or now, now) + tonumber(ARGV[a + 4])
    local over = full - now - tonumber(ARGV[a + 5])
    if over > 0 then
      out[#out + 1] = ''; out[#out + 1] = 0; out[#out + 1] = math.ceil(over / 1000); out[#out + 1] = ''; out[#out + 1] = 0
    else
      redis.call('SET', rate, full, 'PX', math.ceil((full - now) / 1000))
      local prev = newest[log]
      if not prev then
        local top = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
        prev = top[1] and top[1][1] or '0-0'
      end
      local direct = string.sub(to, 1, 1) == '@'
      local id
      local opened = 0
      if direct then
        id = redis.call('XADD', log, 'MAXLEN', '~', ARGV[1], '*', 'from', from, 'text', text, 'cid', cid, 'to', to)
        opened = redis.call('SADD', KEYS[4 + 6 * i], to) + redis.call('SADD', KEYS[5 + 6 * i], '@' .. from)
      else
        id = redis.call('XADD', log, 'MAXLEN', '~', ARGV[1], '*', 'from', from, 'text', text, 'cid', cid)
      end
      newest[log] = id
      redis.call('SET', dedupe, id, 'EX', ARGV[2])
      redis.call('SPUBLISH', live, prev .. '\\n' .. id .. '\\n' .. from .. '\\n' .. to .. '\\n' .. cid .. '\\n' .. text)
      out[#out + 1] = id; out[#out + 1] = 1; out[#out + 1] = 0; out[#out + 1] = prev; out[#out + 1] = math.min(opened, 1)
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
    const scriptKeys: string[] = [];
    const scriptArgs = [String(options.historyLimit), String(options.dedupeSeconds)];
    const streams: StreamName[] = [];
    for (const { message, rate } of batch) {
      const stream = streamOf(message.to, message.from);
      streams.push(stream);
      const senderDirects = keys.userDirects(message.from);
      const recipientDirects = isDirect(message.to) ? keys.userDirects(peerOf(message.to)) : senderDirects;
      scriptKeys.push(
        keys.logOf(stream),
        keys.dedupe(stream, message.from, message.clientId),
        keys.rate("send", usernameKey(message.from)),
      );
      scriptKeys.push(senderDirects, recipientDirects, keys.live(stream));
      const interval = Math.max(1, Math.ceil(1_000_000 / rate.rate));
      scriptArgs.push(message.from, message.text, message.clientId, message.to, String(interval), String(interval * rate.burst));
    }
    let replies: (string | number)[];
    try {
      replies = (await guarded(() => SEND.run(redis, scriptKeys, scriptArgs))) as (string | number)[];
      if (replicas) await guarded(() => replicas.confirm());
    } catch (err) {
      for (const send of batch) send.reject(err);
      return;
    }
    batch.forEach((send, i) => {
      const [id, created, waitMs, prev, opened] = replies.slice(5 * i, 5 * i + 5).map(String) as [string, string, string, string, string];
      if (Number(waitMs) > 0) {
        send.reject(new AppError("E_RATE_LIMITED", "sending too fast, retry shortly", Math.ceil(Number(waitMs) / 1000)));
        return;
      }
      const appended = { id, ts: timestampOf(id), created: created === "1" };
      const { to, from } = send.message;
      // A worker follows a DM pair only once it knows it: both users' workers are told of a pair
      // that just opened, and again on a retry (its first try may have died before telling them).
      // The ack waits for the notices, so an acknowledged message is always announced.
      if (isDirect(to) && (opened === "1" || !appended.created)) {
        const notice = encodeNotice({ stream: streams[i] as StreamName, id, prev });
        const told = [from, peerOf(to)].map((user) => guarded(() => redis.sPublish(keys.notices(user), notice)));
        Promise.all(told).then(() => send.resolve(appended), send.reject);
      } else {
        send.resolve(appended);
      }
    });
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
