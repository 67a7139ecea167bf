import type { RoomName } from "../domain/names.js";
import type { Keys } from "./keys.js";
import type { Redis } from "./redis.js";
import { luaScript } from "./scripts.js";

/**
 * Per user and conversation: the newest message id read on any device, and how many messages
 * mentioned the user since. Conversations are named as the user names them, in lower case.
 */
export interface ReadState {
  markers: Record<string, string>;
  mentions: Record<string, number>;
}

export interface ReadMarker {
  /** The marker after the update: never moves back, whatever order devices report in. */
  lastId: string;
  mentions: number;
}

export interface ReadStateStore {
  /** Moves the marker forward and clears the mentions it covers. */
  markRead(user: string, conversation: string, lastId: string): Promise<ReadMarker>;
  /** Counts a mention of `user` by message `id`; undefined when the user had already read past it. */
  addMention(user: string, conversation: string, id: string): Promise<number | undefined>;
  get(user: string): Promise<ReadState>;
  isMember(user: string, room: RoomName): Promise<boolean>;
}

/** Stream ids compared as two integers, in Lua (exact: milliseconds stay far below 2^53). */
const NEWER = `
local function newer(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
`;

// KEYS: markers, mentions. ARGV: conversation, last id. The mention count goes only when the marker
// covers the newest mention: a read reported from a device that has not seen it yet keeps it.
// Returns the marker and the count left.
const MARK_READ = luaScript<[string, number]>(`${NEWER}
local marker = redis.call('HGET', KEYS[1], ARGV[1])
if not marker or newer(ARGV[2], marker) then
  marker = ARGV[2]
  redis.call('HSET', KEYS[1], ARGV[1], marker)
end
local at = redis.call('HGET', KEYS[2], 'at:' .. ARGV[1])
if at and not newer(at, marker) then
  redis.call('HDEL', KEYS[2], 'n:' .. ARGV[1], 'at:' .. ARGV[1])
end
return {marker, tonumber(redis.call('HGET', KEYS[2], 'n:' .. ARGV[1]) or '0')}`);

// KEYS: markers, mentions. ARGV: conversation, message id, most counted. Returns the count, or -1
// when the marker already covers the message (read on another device before it was counted).
const ADD_MENTION = luaScript<number>(`${NEWER}
local marker = redis.call('HGET', KEYS[1], ARGV[1])
if marker and not newer(ARGV[2], marker) then return -1 end
local at = redis.call('HGET', KEYS[2], 'at:' .. ARGV[1])
if not at or newer(ARGV[2], at) then redis.call('HSET', KEYS[2], 'at:' .. ARGV[1], ARGV[2]) end
local n = redis.call('HINCRBY', KEYS[2], 'n:' .. ARGV[1], 1)
if n > tonumber(ARGV[3]) then
  n = tonumber(ARGV[3])
  redis.call('HSET', KEYS[2], 'n:' .. ARGV[1], n)
end
return n`);

/** A count shown as "99+" needs no more precision, and a flood cannot grow it without bound. */
const MENTIONS_COUNTED_MAX = 100;

/** Registered with every Redis client (script-registry.ts). */
export const readStateScripts = { markRead: MARK_READ, addMention: ADD_MENTION };

export function createReadStateStore(redis: Redis, keys: Keys): ReadStateStore {
  const keysOf = (user: string) => [keys.readMarkers(user), keys.mentionCounts(user)];
  return {
    async markRead(user, conversation, lastId) {
      const [marker, mentions] = (await redis.markRead(keysOf(user), [conversation, lastId])) as [string, number];
      return { lastId: marker, mentions };
    },

    async addMention(user, conversation, id) {
      const count = Number(await redis.addMention(keysOf(user), [conversation, id, String(MENTIONS_COUNTED_MAX)]));
      return count < 0 ? undefined : count;
    },

    async get(user) {
      const [markers, counts] = await Promise.all([redis.hGetAll(keys.readMarkers(user)), redis.hGetAll(keys.mentionCounts(user))]);
      const mentions: Record<string, number> = {};
      for (const [field, value] of Object.entries(counts)) {
        if (field.startsWith("n:")) mentions[field.slice(2)] = Number(value);
      }
      return { markers: { ...markers }, mentions };
    },

    async isMember(user, room) {
      return (await redis.sIsMember(keys.roomMembers(room), user)) === 1;
    },
  };
}
