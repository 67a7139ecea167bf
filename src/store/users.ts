import { GENERAL_ROOM } from "../domain/names.js";
import type { Keys } from "./keys.js";
import type { Redis } from "./redis.js";
import { luaScript } from "./scripts.js";

export interface Account {
  /** The name as the user typed it at registration (display form). */
  name: string;
  passwordHash: string;
  created: number;
}

export interface UserStore {
  /** Creates the account and its #general membership; false when the name (case-insensitively) is taken. */
  create(account: Account): Promise<boolean>;
  find(name: string): Promise<Account | undefined>;
  /** The display form of an existing user's name, or undefined. */
  displayName(name: string): Promise<string | undefined>;
}

// One step, so two registrations of one name cannot both succeed.
const CREATE = luaScript<number>(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'hash', ARGV[2], 'created', ARGV[3])
return 1`);

/** Registered with every Redis client (script-registry.ts). */
export const userScripts = { createAccount: CREATE };

export function createUserStore(redis: Redis, keys: Keys): UserStore {
  return {
    async create(account) {
      const created = await redis.createAccount([keys.user(account.name)], [account.name, account.passwordHash, String(account.created)]);
      if (created !== 1) return false;
      // The membership keys are in other hash slots than the account: added next, each idempotent.
      // Should this fail, the account's first connection adds them (realtime/connection.ts).
      await Promise.all([
        redis.sAdd(keys.userRooms(account.name), GENERAL_ROOM),
        redis.sAdd(keys.roomMembers(GENERAL_ROOM), account.name),
        redis.zAdd(keys.roomIndex, { score: 0, value: GENERAL_ROOM }),
      ]);
      return true;
    },
    async find(name) {
      const fields = await redis.hGetAll(keys.user(name));
      if (!fields.name || !fields.hash) return undefined;
      return { name: fields.name, passwordHash: fields.hash, created: Number(fields.created) };
    },
    async displayName(name) {
      return (await redis.hGet(keys.user(name), "name")) ?? undefined;
    },
  };
}
