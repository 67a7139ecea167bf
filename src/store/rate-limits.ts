import { AppError } from "../lib/errors.js";
import type { Keys } from "./keys.js";
import { guarded, type Redis } from "./redis.js";
import { lua } from "./scripts.js";

/** Limits shared by every worker and host, because they live in Redis (sends have theirs in the send script). */
export interface RateLimiter {
  /** Counts one event in a fixed window; @throws E_RATE_LIMITED once `max` is exceeded. */
  hit(kind: string, subject: string, max: number, windowSeconds: number): Promise<void>;
}

const HIT = lua(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}`);

const limited = (seconds: number): AppError =>
  new AppError("E_RATE_LIMITED", `too many requests, retry in ${seconds}s`, Math.max(1, seconds));

export function createRateLimiter(redis: Redis, keys: Keys): RateLimiter {
  return {
    async hit(kind, subject, max, windowSeconds) {
      const [count, ttl] = (await guarded(() => HIT.run(redis, [keys.rate(kind, subject)], [String(windowSeconds)]))) as [number, number];
      if (count > max) throw limited(ttl);
    },
  };
}
