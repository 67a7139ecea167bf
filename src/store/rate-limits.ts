import { AppError } from "../lib/errors.js";
import type { Keys } from "./keys.js";
import type { Redis } from "./redis.js";
import { luaScript } from "./scripts.js";

/** Limits shared by every worker and host, because they live in Redis (sends have theirs in messages.ts). */
export interface RateLimiter {
  /** Counts one event in a fixed window; @throws E_RATE_LIMITED once `max` is exceeded. */
  hit(kind: string, subject: string, max: number, windowSeconds: number): Promise<void>;
}

const HIT = luaScript<[number, number]>(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}`);

const limited = (seconds: number): AppError =>
  new AppError("E_RATE_LIMITED", `too many requests, retry in ${seconds}s`, Math.max(1, seconds));

/** Registered with every Redis client (script-registry.ts). */
export const rateLimitScripts = { rateWindowHit: HIT };

export function createRateLimiter(redis: Redis, keys: Keys): RateLimiter {
  return {
    async hit(kind, subject, max, windowSeconds) {
      const [count, ttl] = (await redis.rateWindowHit([keys.rate(kind, subject)], [String(windowSeconds)])) as [number, number];
      if (count > max) throw limited(ttl);
    },
  };
}
