import type { Keys } from "./keys.js";
import type { Redis } from "./redis.js";
import { luaScript } from "./scripts.js";

/**
 * Who is online across every worker of every host. Each worker counts its own connections per user
 * in its own hash and heartbeats; a global hash holds the total per user, so "went online/offline"
 * is decided atomically in Redis and announced once, however many tabs or workers are involved.
 */
export interface PresenceStore {
  /** Counts a new connection; returns the user's connections now, everywhere (1: just came online). */
  connect(user: string): Promise<number>;
  /** The user's connections now, everywhere. */
  connections(user: string): Promise<number>;
  /** Uncounts a connection; true when the user just went offline. */
  disconnect(user: string): Promise<boolean>;
  /** Marks this worker alive; re-registers its connections if it had been swept as dead. Returns users that came back online. */
  heartbeat(): Promise<string[]>;
  /** Removes workers silent for longer than the TTL; returns the users that went offline. */
  sweep(): Promise<string[]>;
  /** Removes this worker's connections (graceful stop); returns the users that went offline. */
  leave(): Promise<string[]>;
  /** Whether each of these users is online now, anywhere. */
  areOnline(users: readonly string[]): Promise<boolean[]>;
}

const CONNECT = luaScript<number>(`
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)`);

// 1 when this took the user offline. A connection the worker's hash no longer holds was already
// taken off the totals (the worker left, or was swept while it paused): counting it again would
// show a user who is online elsewhere as offline.
const DISCONNECT = luaScript<number>(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if total <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return 0`);

// Removes one worker's connections from the totals: its users that are nowhere else go offline.
const REMOVE_WORKER = luaScript<string[]>(`
local entries = redis.call('HGETALL', KEYS[1])
local gone = {}
for i = 1, #entries, 2 do
  local total = redis.call('HINCRBY', KEYS[2], entries[i], -tonumber(entries[i + 1]))
  if total <= 0 then
    redis.call('HDEL', KEYS[2], entries[i])
    table.insert(gone, entries[i])
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return gone`);

// Redis's clock, not the hosts', decides who is stale.
const HEARTBEAT = luaScript<number>(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
if known then return 1 end
return 0`);

const STALE = luaScript<string[]>(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))`);

const RESTORE = luaScript<string[]>(`
local back = {}
for i = 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], tonumber(ARGV[i + 1]))
  if redis.call('HINCRBY', KEYS[2], ARGV[i], tonumber(ARGV[i + 1])) == tonumber(ARGV[i + 1]) then
    table.insert(back, ARGV[i])
  end
end
return back`);

/** Registered with every Redis client (script-registry.ts). */
export const presenceScripts = {
  presenceConnect: CONNECT,
  presenceDisconnect: DISCONNECT,
  presenceRemoveWorker: REMOVE_WORKER,
  presenceHeartbeat: HEARTBEAT,
  presenceStale: STALE,
  presenceRestore: RESTORE,
};

export function createPresenceStore(redis: Redis, keys: Keys, workerId: string, ttlSeconds: number): PresenceStore {
  const mine = keys.presenceWorker(workerId);
  /** This worker's own counts, to restore them if it was wrongly swept (e.g. a long GC pause). */
  const local = new Map<string, number>();
  let registered = false;

  const removeWorker = (id: string): Promise<string[]> =>
    redis.presenceRemoveWorker([keys.presenceWorker(id), keys.presenceOnline, keys.presenceWorkers], [id]);

  return {
    async connect(user) {
      local.set(user, (local.get(user) ?? 0) + 1);
      return Number(await redis.presenceConnect([mine, keys.presenceOnline], [user]));
    },
    async connections(user) {
      return Number((await redis.hGet(keys.presenceOnline, user)) ?? 0);
    },
    async disconnect(user) {
      const count = (local.get(user) ?? 0) - 1;
      if (count > 0) local.set(user, count);
      else local.delete(user);
      return (await redis.presenceDisconnect([mine, keys.presenceOnline], [user])) === 1;
    },
    async heartbeat() {
      const known = await redis.presenceHeartbeat([keys.presenceWorkers], [workerId]);
      const wasSwept = known === 0 && registered;
      registered = true;
      if (!wasSwept || local.size === 0) return [];
      const args = [...local].flatMap(([user, count]) => [user, String(count)]);
      return redis.presenceRestore([mine, keys.presenceOnline], args);
    },
    async sweep() {
      const stale = await redis.presenceStale([keys.presenceWorkers], [String(ttlSeconds * 1000)]);
      const gone: string[] = [];
      for (const id of stale) if (id !== workerId) gone.push(...(await removeWorker(id)));
      return gone;
    },
    async leave() {
      local.clear();
      return removeWorker(workerId);
    },
    async areOnline(users) {
      if (users.length === 0) return [];
      const totals = await redis.hmGet(keys.presenceOnline, [...users]);
      return totals.map((total) => Number(total ?? 0) > 0);
    },
  };
}
