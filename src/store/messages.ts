import type { ConversationEvent, CurrentState } from "../domain/edits.js";
import type { Message } from "../domain/messages.js";
import { type Conversation, isDirect, peerOf, type StreamName, streamOf, usernameKey } from "../domain/names.js";
import { compareIds, timestampOf } from "../domain/stream-ids.js";
import { AppError } from "../lib/errors.js";
import { eventsOf, isUpdate, readStates, type StreamEntry, subjectsOf } from "./edits.js";
import type { Keys } from "./keys.js";
import { type EntryUpdate, encodeNotice } from "./live-wire.js";
import type { Redis } from "./redis.js";
import type { ReplicaConfirmer } from "./replication.js";
import { luaScript } from "./scripts.js";
import { maxDeletedId } from "./stream-info.js";

/** A message on its way into a conversation, addressed as the sender names it. */
export interface NewMessage {
  /** `#room` or `@recipient` as the sender addresses it. */
  to: Conversation;
  from: string;
  /** Empty for a deletion. */
  text: string;
  clientId: string;
  /** An edit or deletion of the sender's message `messageId` in the same conversation. */
  update?: EntryUpdate;
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

/** What a client missed: every entry in order, or, truncated, the latest page in its current state. */
export type Page =
  | {
      truncated: false;
      events: ConversationEvent[];
      /** The newest entry read, sent or not (an edit of a message deleted since is not sent). */
      lastId?: string;
    }
  | { truncated: true; messages: Message[] };

export interface MessageStore {
  /**
   * If the sender's rate allows it, stores once per (conversation, sender, clientId) and publishes
   * the message on its conversation's live channel, atomically; then lists a direct conversation
   * on both sides before it resolves. A retry of a stored message gets its token back. An edit or
   * a deletion takes the same path.
   * @throws AppError E_RATE_LIMITED; for an edit or deletion also E_NOT_FOUND (no such message),
   * E_FORBIDDEN (another user's) and E_CONFLICT (deleted).
   */
  append(message: NewMessage, rate: SendRate): Promise<Appended>;
  /** Pages of messages (edits and deletions applied, not listed), ascending. */
  latest(conversation: Conversation, viewer: string, limit: number): Promise<Message[]>;
  before(conversation: Conversation, viewer: string, id: string, limit: number): Promise<Message[]>;
  after(conversation: Conversation, viewer: string, id: string, limit: number): Promise<Message[]>;
  /**
   * What a client that holds `lastId` missed, oldest first, or the latest page with truncated=true
   * when more than `max` entries are missing or some were trimmed away.
   */
  missedSince(conversation: Conversation, viewer: string, lastId: string, max: number): Promise<Page>;
}

export interface MessageStoreOptions {
  historyLimit: number;
  /** Seconds a clientId is remembered for deduplication. */
  dedupeSeconds: number;
  /** Waits for replicas after a batch is stored, before it is acknowledged (REDIS_WAIT_REPLICAS). */
  replicas?: ReplicaConfirmer;
  /** Every key is on one server (KeyPlacement.oneShard): one script run per batch. Default true. */
  oneShard?: boolean;
}

// The rate limit is a GCRA (one integer per sender: the time, in µs on Redis's clock, at which
// their budget is full again), shared by every worker and host. TAKE_TOKEN is the Lua of one
// charge: KEYS[k] the sender's rate key, interval and burst window in µs; it returns the ms to
// wait, 0 when the token was taken. On a single Redis the store script charges each send itself;
// on a Redis Cluster a sender's key and a conversation's keys are in different hash slots, so
// CHARGE runs first, once per sender's slot.
const TAKE_TOKEN = `
local now
local function takeToken(key, interval, window)
  if not now then
    local t = redis.call('TIME')
    now = t[1] * 1000000 + t[2]
  end
  local full = math.max(tonumber(redis.call('GET', key)) or now, now) + interval
  local over = full - now - window
  if over > 0 then return math.ceil(over / 1000) end
  redis.call('SET', key, full, 'PX', math.ceil((full - now) / 1000))
  return 0
end
`;

// KEYS: one rate key per message. ARGV per message: interval µs, burst window µs. Returns per
// message the ms to wait, 0 when the token was taken.
const CHARGE = luaScript<number[]>(`${TAKE_TOKEN}
local out = {}
for i = 1, #KEYS do
  out[i] = takeToken(KEYS[i], tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i]))
end
return out`);

// A retry of a stored message gives its token back (Redis Cluster only). KEYS: rate key. ARGV: interval µs.
const REFUND = luaScript<number>(`
local full = tonumber(redis.call('GET', KEYS[1]))
if full then redis.call('SET', KEYS[1], full - tonumber(ARGV[1]), 'KEEPTTL') end
return 1`);

// One script per batch of sends to one hash slot (every conversation on a single Redis): per
// message, dedupe, charge the sender (on a single Redis), store, remember the clientId and publish
// it on its conversation's live channel with the id of its predecessor in the stream, so a
// subscribed worker sees a gap (live-feed.ts). A message is either stored and published, or not
// stored at all. A retry of a stored message, or a refused edit, takes no token. Every redis.call
// adds Redis CPU to each message, so the script makes as few as it can.
// An edit or a deletion (kind 'edit' or 'delete', of a message id) takes the same path, so it is
// ordered, deduplicated and published like a message; it is checked first (the message exists, is
// a message, is the sender's, is not deleted) and also records the message's state in the
// conversation's overlay (store/edits.ts), which is pruned of messages trimmed away.
// KEYS per message: log, dedupe, live channel, overlay (one hash tag: the conversation), and the
// sender's rate key when charging. ARGV: history limit, dedupe seconds, '1' to charge, then per
// message: from, text, clientId, to, kind ('' for a message), of, rate interval µs, burst window µs.
// Returns, per message: id ('' when refused), created (1/0), the id before it in its stream ('0-0'
// if none), why it was refused ('' if it was not: 'not_found', 'forbidden', 'deleted' or 'rate'),
// the ms to wait for a token (when 'rate').
const SEND = luaScript<(string | number)[]>(`${TAKE_TOKEN}
local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return false end
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local function refusal(log, overlay, from, target)
  local found = redis.call('XRANGE', log, target, target)
  if not found[1] then return 'not_found' end
  local fields = found[1][2]
  local author
  for j = 1, #fields, 2 do
    if fields[j] == 'kind' then return 'not_found' end
    if fields[j] == 'from' then author = fields[j + 1] end
  end
  if string.lower(author or '') ~= string.lower(from) then return 'forbidden' end
  if redis.call('HGET', overlay, target) == 'd' then return 'deleted' end
  return ''
end
local function prune(log, overlay, limit)
  if redis.call('HLEN', overlay) <= 2 * limit then return end
  local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
  if not first then return end
  local stale = {}
  for _, id in ipairs(redis.call('HKEYS', overlay)) do
    if older(id, first[1]) then stale[#stale + 1] = id end
  end
  for j = 1, #stale, 500 do redis.call('HDEL', overlay, unpack(stale, j, math.min(j + 499, #stale))) end
end
local charging = ARGV[3] == '1'
local stride = charging and 5 or 4
local out = {}
local newest = {}
for i = 0, #KEYS / stride - 1 do
  local k = stride * i
  local log, dedupe, live, overlay = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
  local a = 4 + 8 * i
  local from, text, cid, to, kind, target = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local existing = redis.call('GET', dedupe)
  local refused, wait = '', 0
  if not existing and kind ~= '' then refused = refusal(log, overlay, from, target) end
  if not existing and refused == '' and charging then
    wait = takeToken(KEYS[k + 5], tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7]))
    if wait > 0 then refused = 'rate' end
  end
  if existing then
    local before = redis.call('XREVRANGE', log, '(' .. existing, '-', 'COUNT', 1)
    out[#out + 1] = existing; out[#out + 1] = 0; out[#out + 1] = before[1] and before[1][1] or '0-0'; out[#out + 1] = ''; out[#out + 1] = 0
  elseif refused ~= '' then
    out[#out + 1] = ''; out[#out + 1] = 0; out[#out + 1] = ''; out[#out + 1] = refused; out[#out + 1] = wait
  else
    local prev = newest[log]
    if not prev then
      local top = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
      prev = top[1] and top[1][1] or '0-0'
    end
    local entry = {log, 'MAXLEN', '~', ARGV[1], '*', 'from', from, 'text', text, 'cid', cid}
    if string.sub(to, 1, 1) == '@' then entry[#entry + 1] = 'to'; entry[#entry + 1] = to end
    if kind ~= '' then
      entry[#entry + 1] = 'kind'; entry[#entry + 1] = kind; entry[#entry + 1] = 'of'; entry[#entry + 1] = target
    end
    local id = redis.call('XADD', unpack(entry))
    if kind ~= '' then
      redis.call('HSET', overlay, target, kind == 'delete' and 'd' or 'e' .. text)
      prune(log, overlay, tonumber(ARGV[1]))
    end
    newest[log] = id
    redis.call('SET', dedupe, id, 'EX', ARGV[2])
    redis.call('SPUBLISH', live, prev .. '\\n' .. id .. '\\n' .. from .. '\\n' .. to .. '\\n' .. cid .. '\\n' .. kind .. '\\n' .. target .. '\\n' .. text)
    out[#out + 1] = id; out[#out + 1] = 1; out[#out + 1] = prev; out[#out + 1] = ''; out[#out + 1] = 0
  end
end
return out`);

/** Sends per script run: bounds how long one run holds Redis, which serves nobody else meanwhile. */
const SEND_BATCH_MAX = 64;

/** Stream reads per history page: a page skips edits and deletions, but not without bound. */
const PAGE_READS_MAX = 4;

const REFUSALS: Record<string, AppError> = {
  not_found: new AppError("E_NOT_FOUND", "no such message in this conversation"),
  forbidden: new AppError("E_FORBIDDEN", "only its author can edit or delete a message"),
  deleted: new AppError("E_CONFLICT", "the message was deleted"),
};

interface PendingSend {
  message: NewMessage;
  stream: StreamName;
  /** The sender's rate: µs per token. */
  interval: number;
  burst: number;
  /** How long its sender must wait for a token (Redis Cluster, charged before it is stored). */
  waitMs: number;
  resolve(appended: Appended): void;
  reject(err: unknown): void;
}

const rateLimited = (waitMs: number): AppError =>
  new AppError("E_RATE_LIMITED", "sending too fast, retry shortly", Math.ceil(waitMs / 1000));

/** The sends in groups of one key each, in their order; or all together when `together`. */
function groupBy(sends: PendingSend[], together: boolean, keyOf: (send: PendingSend) => string): PendingSend[][] {
  if (together) return sends.length > 0 ? [sends] : [];
  const groups = new Map<string, PendingSend[]>();
  for (const send of sends) {
    const key = keyOf(send);
    const group = groups.get(key);
    if (group) group.push(send);
    else groups.set(key, [send]);
  }
  return [...groups.values()];
}

/** Registered with every Redis client (script-registry.ts). */
export const messageScripts = { chargeSendRate: CHARGE, refundSendRate: REFUND, storeSends: SEND };

export function createMessageStore(redis: Redis, keys: Keys, options: MessageStoreOptions): MessageStore {
  /**
   * Up to `limit` messages next to `from` (exclusive) in one direction, skipping edits and
   * deletions, each message in its current state; ascending.
   */
  const page = async (
    conversation: Conversation,
    viewer: string,
    from: string,
    limit: number,
    newestFirst: boolean,
  ): Promise<Message[]> => {
    const stream = streamOf(conversation, viewer);
    const log = keys.logOf(stream);
    const overlay = keys.edits(stream);
    const read = async (cursor: string, count: number): Promise<StreamEntry[]> =>
      (await (newestFirst ? redis.xRevRange(log, cursor, "-", { COUNT: count }) : redis.xRange(log, cursor, "+", { COUNT: count }))) ?? [];
    // Whether the conversation has any edit is asked with the first read, in the same round trip:
    // most have none, and then the overlay is not read at all.
    const [firstRead, edited] = await Promise.all([read(from, limit), redis.exists(overlay)]);
    const found: StreamEntry[] = [];
    let entries = firstRead;
    let asked = limit;
    for (let reads = 1; ; reads++) {
      found.push(...entries.filter((entry) => !isUpdate(entry)));
      const last = entries.at(-1);
      // Stop at the stream's end (a short read), with a full page, or after a bounded number of reads.
      if (last === undefined || entries.length < asked || found.length >= limit || reads >= PAGE_READS_MAX) break;
      asked = limit - found.length;
      entries = await read(`(${last.id}`, asked);
    }
    if (newestFirst) found.reverse();
    const states = edited > 0 ? await readStates(redis, overlay, subjectsOf(found)) : new Map<string, CurrentState>();
    return eventsOf(found, conversation, states).flatMap((event) => (event.event === "message:new" ? [event.payload] : []));
  };

  let pending: PendingSend[] = [];
  const { replicas } = options;
  const oneShard = options.oneShard ?? true;
  const rateKey = (send: PendingSend): string => keys.rate("send", usernameKey(send.message.from));
  const dedupeKey = ({ stream, message }: PendingSend): string => keys.dedupe(stream, message.from, message.clientId);

  /**
   * Takes a token per send; rejects those over their sender's rate, unless stored already (a retry
   * is answered with its id even while its sender is limited). Returns the others.
   */
  const charge = async (group: PendingSend[]): Promise<PendingSend[]> => {
    const args = group.flatMap((send) => [String(send.interval), String(send.interval * send.burst)]);
    let stored: boolean[];
    try {
      const waits = await redis.chargeSendRate(group.map(rateKey), args);
      group.forEach((send, i) => {
        send.waitMs = Number(waits[i]);
      });
      stored = await Promise.all(group.map(async (send) => send.waitMs > 0 && (await redis.exists(dedupeKey(send))) === 1));
    } catch (err) {
      for (const send of group) send.reject(err);
      return [];
    }
    return group.filter((send, i) => {
      if (send.waitMs <= 0 || stored[i]) return true;
      send.reject(rateLimited(send.waitMs));
      return false;
    });
  };

  /**
   * Lists a direct conversation on both sides; true when that opened it on either. Done after the
   * message is stored (each user's list is in that user's hash slot), on a retry too, and before
   * the ack: a reconnecting recipient reads the list to catch up.
   */
  const listDirect = async ({ message }: PendingSend): Promise<boolean> => {
    if (!isDirect(message.to)) return false;
    const added = await Promise.all([
      redis.sAdd(keys.userDirects(message.from), message.to),
      redis.sAdd(keys.userDirects(peerOf(message.to)), `@${message.from}`),
    ]);
    return added.some((count) => count > 0);
  };

  /** On a Redis Cluster a token is taken before it is known whether the send is a retry of a stored one. */
  const chargedFirst = (send: PendingSend): boolean => !oneShard && send.waitMs <= 0;
  const refund = (send: PendingSend): void => {
    redis.refundSendRate([rateKey(send)], [String(send.interval)]).catch(() => undefined);
  };

  /** Stores the sends of one hash slot (of every conversation on a single Redis) and acks them. */
  const store = async (group: PendingSend[]): Promise<void> => {
    const scriptKeys: string[] = [];
    const scriptArgs = [String(options.historyLimit), String(options.dedupeSeconds), oneShard ? "1" : "0"];
    for (const send of group) {
      const { message, stream } = send;
      scriptKeys.push(keys.logOf(stream), dedupeKey(send), keys.live(stream), keys.edits(stream));
      if (oneShard) scriptKeys.push(rateKey(send));
      scriptArgs.push(
        message.from,
        message.text,
        message.clientId,
        message.to,
        message.update?.kind ?? "",
        message.update?.messageId ?? "",
        String(send.interval),
        String(send.interval * send.burst),
      );
    }
    let replies: string[];
    let opened: boolean[];
    try {
      replies = (await redis.storeSends(scriptKeys, scriptArgs)).map(String);
      opened = await Promise.all(group.map(listDirect));
      if (replicas) {
        const written = group.flatMap(({ message, stream }) =>
          isDirect(message.to)
            ? [keys.logOf(stream), keys.userDirects(message.from), keys.userDirects(peerOf(message.to))]
            : [keys.logOf(stream)],
        );
        await replicas.confirm(written);
      }
    } catch (err) {
      for (const send of group) send.reject(err);
      return;
    }
    group.forEach((send, i) => {
      const [id, created, prev, refused, waitMs] = replies.slice(5 * i, 5 * i + 5) as [string, string, string, string, string];
      if (refused !== "") {
        // Nothing was written: a token taken for it goes back.
        if (chargedFirst(send)) refund(send);
        send.reject(refused === "rate" ? rateLimited(Number(waitMs)) : (REFUSALS[refused] ?? new Error(`send script refused: ${refused}`)));
        return;
      }
      const appended = { id, ts: timestampOf(id), created: created === "1" };
      const { to, from } = send.message;
      if (!appended.created && chargedFirst(send)) refund(send);
      // A worker follows a DM pair only once it knows it: both users' workers are told of a pair
      // that just opened, and again on a retry (its first try may have died before telling them).
      // The ack waits for the notices, so an acknowledged message is always announced.
      if (isDirect(to) && (opened[i] || !appended.created)) {
        const notice = encodeNotice({ stream: send.stream, id, prev });
        const told = [from, peerOf(to)].map((user) => redis.sPublish(keys.notices(user), notice));
        Promise.all(told).then(() => send.resolve(appended), send.reject);
      } else {
        send.resolve(appended);
      }
    });
  };

  // On a single Redis, charged and stored by one script run; on a Redis Cluster charged per
  // sender's hash slot, then stored per conversation's. Commands on one connection run in order,
  // and batches leave in order, so a sender's sends keep their order.
  const runBatch = async (batch: PendingSend[]): Promise<void> => {
    const allowed = oneShard ? batch : (await Promise.all(groupBy(batch, false, rateKey).map(charge))).flat();
    await Promise.all(groupBy(allowed, oneShard, (send) => send.stream).map(store));
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
        const interval = Math.max(1, Math.ceil(1_000_000 / rate.rate));
        pending.push({ message, stream: streamOf(message.to, message.from), interval, burst: rate.burst, waitMs: 0, resolve, reject });
      });
    },

    latest: (conversation, viewer, limit) => page(conversation, viewer, "+", limit, true),
    before: (conversation, viewer, id, limit) => page(conversation, viewer, `(${id}`, limit, true),
    after: (conversation, viewer, id, limit) => page(conversation, viewer, `(${id}`, limit, false),

    async missedSince(conversation, viewer, lastId, max) {
      const log = keys.log(conversation, viewer);
      const overlay = keys.edits(streamOf(conversation, viewer));
      const [missedOrNull, deleted, edited] = await Promise.all([
        redis.xRange(log, `(${lastId}`, "+", { COUNT: max + 1 }),
        maxDeletedId(redis, log),
        redis.exists(overlay),
      ]);
      const missed = missedOrNull ?? [];
      const trimmed = compareIds(deleted, lastId) > 0;
      if (missed.length <= max && !trimmed) {
        const states = edited > 0 ? await readStates(redis, overlay, subjectsOf(missed)) : new Map<string, CurrentState>();
        const newest = missed.at(-1)?.id;
        return { truncated: false, events: eventsOf(missed, conversation, states), ...(newest === undefined ? {} : { lastId: newest }) };
      }
      return { messages: await this.latest(conversation, viewer, max), truncated: true };
    },
  };
}
