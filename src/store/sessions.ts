import { randomBytes } from "node:crypto";
import { RedisStore } from "connect-redis";
import type { Keys } from "./keys.js";
import type { Redis } from "./redis.js";

/**
 * Every write and touch sets the Redis entry to expire after the idle timeout, or at the absolute
 * timeout if that comes first. A number would not do: connect-redis prefers the cookie's expiry
 * to it, which is the absolute timeout and moves forward with every request.
 */
export function createSessionStore(redis: Redis, keys: Keys, idleSeconds: number, absoluteSeconds: number): RedisStore {
  const ttl = (session: { createdAt?: number }): number => {
    if (session.createdAt === undefined) return idleSeconds;
    const left = Math.ceil((session.createdAt + absoluteSeconds * 1000 - Date.now()) / 1000);
    return Math.max(1, Math.min(idleSeconds, left));
  };
  return new RedisStore({ client: redis, prefix: keys.sessions, ttl });
}

/**
 * Outside production a secret is generated once and kept in Redis (SET NX), so every worker and
 * host signs cookies alike and sessions survive restarts without any setup.
 */
export async function sharedDevSecret(redis: Redis, keys: Keys): Promise<string> {
  await redis.set(keys.sessionSecret, randomBytes(32).toString("base64url"), { NX: true });
  const secret = await redis.get(keys.sessionSecret);
  if (!secret) throw new Error("session secret vanished from Redis");
  return secret;
}

/** What sockets need of sessions: keeping active ones alive and noticing ended ones. */
export interface SessionKeeper {
  /** Refreshes the idle timeout of these sessions; returns the ids that still exist. */
  keepAlive(ids: readonly string[]): Promise<Set<string>>;
  /** Returns the ids of these sessions that still exist, without refreshing them. */
  existing(ids: readonly string[]): Promise<Set<string>>;
  destroy(id: string): Promise<void>;
}

export function createSessionKeeper(redis: Redis, keys: Keys, idleSeconds: number): SessionKeeper {
  return {
    async keepAlive(ids) {
      if (ids.length === 0) return new Set();
      const touched = await Promise.all(ids.map((id) => redis.expire(keys.session(id), idleSeconds)));
      return new Set(ids.filter((_, i) => touched[i] === 1));
    },
    async existing(ids) {
      if (ids.length === 0) return new Set();
      const found = await Promise.all(ids.map((id) => redis.exists(keys.session(id))));
      return new Set(ids.filter((_, i) => found[i] === 1));
    },
    async destroy(id) {
      await redis.del(keys.session(id));
    },
  };
}
