import { AppError } from "../lib/errors.js";
import type { Keys } from "./keys.js";
import type { Redis } from "./redis.js";
import { luaScript } from "./scripts.js";

export interface LoginLimitSettings {
  /** Attempts per username and address before the delays start. */
  free: number;
  /** Attempts per address over every username. */
  perAddress: number;
  windowSeconds: number;
}

/** Login attempts, counted in Redis so that every worker and host shares them. */
export interface LoginLimits {
  /**
   * Counts an attempt before the password is checked, so parallel tries cannot all pass a check
   * made before any of them was counted. @throws E_RATE_LIMITED with the wait in `retryAfter`.
   */
  attempt(username: string, address: string): Promise<void>;
  /** The password was right: this name and address start afresh, and the address gets its try back. */
  succeeded(username: string, address: string): Promise<void>;
  /** The password was wrong: past the free attempts, the wait counts from now, not from the attempt. */
  failed(username: string, address: string): Promise<void>;
}

/**
 * One script, so the check and the count are one step. Past the free attempts each one sets a
 * wait before the next that doubles (1 s, 2 s, 4 s … at most the window): an attacker gets a few
 * tries an hour, while the owner, from another address, is never locked out. The address counter
 * bounds password spraying over many names. Both keys share the address's hash slot.
 */
const ATTEMPT = luaScript<[number, number]>(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nextAt = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
if now < nextAt then return {0, nextAt - now} end
local window = tonumber(ARGV[2]) * 1000
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[3]) then
  return {0, math.max(1000, redis.call('PTTL', KEYS[2]))}
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local free = tonumber(ARGV[1])
if n >= free then
  redis.call('HSET', KEYS[1], 'next', now + math.min(window, 1000 * 2 ^ (n - free)))
end
redis.call('PEXPIRE', KEYS[1], window)
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], window) end
return {1, 0}`);

// A password check can take a second or more on a busy host: the wait must follow it.
const FAILED = luaScript<number>(`
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local free = tonumber(ARGV[1])
if n < free then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2]) * 1000
local nextAt = now + math.min(window, 1000 * 2 ^ (n - free))
if nextAt > tonumber(redis.call('HGET', KEYS[1], 'next') or '0') then redis.call('HSET', KEYS[1], 'next', nextAt) end
redis.call('PEXPIRE', KEYS[1], window)
return 1`);

const REFUND = luaScript<number>(`
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 1`);

/** Registered with every Redis client (script-registry.ts). */
export const loginLimitScripts = { loginAttempt: ATTEMPT, loginFailed: FAILED, loginRefund: REFUND };

export function createLoginLimits(redis: Redis, keys: Keys, settings: LoginLimitSettings): LoginLimits {
  const args = [String(settings.free), String(settings.windowSeconds), String(settings.perAddress)];
  return {
    async attempt(username, address) {
      const keyList = [keys.loginAttempts(address, username), keys.loginAddress(address)];
      const [allowed, waitMs] = (await redis.loginAttempt(keyList, args)) as [number, number];
      if (allowed === 1) return;
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new AppError("E_RATE_LIMITED", `too many login attempts, retry in ${seconds}s`, seconds);
    },
    async failed(username, address) {
      await redis.loginFailed([keys.loginAttempts(address, username)], args.slice(0, 2));
    },
    async succeeded(username, address) {
      await redis.loginRefund([keys.loginAttempts(address, username), keys.loginAddress(address)], []);
    },
  };
}
