import type { Limits } from "../config.js";
import { parseNewPassword, parseUsername } from "../domain/names.js";
import { commonPasswords } from "../lib/common-passwords.js";
import { AppError } from "../lib/errors.js";
import type { HashGate } from "../lib/hash-gate.js";
import { DUMMY_HASHES, hashPassword, verifyPassword } from "../lib/passwords.js";
import type { LoginLimits } from "../store/login-limits.js";
import type { RateLimiter } from "../store/rate-limits.js";
import type { UserStore } from "../store/users.js";

export interface Credentials {
  username: unknown;
  password: unknown;
}

/** Both also throw the Redis client's own errors while storage is down (an outage, see http/errors.ts). */
export interface Accounts {
  /** @returns the new user's name. @throws E_INVALID, E_CONFLICT, E_RATE_LIMITED. */
  register(input: Credentials, address: string): Promise<string>;
  /** @returns the user's name as registered. @throws E_UNAUTHORIZED (always generic), E_RATE_LIMITED. */
  login(input: Credentials, address: string): Promise<string>;
}

const BAD_LOGIN = "invalid username or password";

export interface AccountDeps {
  users: UserStore;
  limiter: RateLimiter;
  loginLimits: LoginLimits;
  hashGate: HashGate;
  limits: Limits;
}

export function createAccounts({ users, limiter, loginLimits, hashGate, limits }: AccountDeps): Accounts {
  return {
    async register(input, address) {
      const name = parseUsername(input.username);
      const password = parseNewPassword(input.password, name, await commonPasswords());
      const passwordHash = await hashGate.run(async () => {
        await limiter.hit("register", address, limits.registerRate, 3600);
        return hashPassword(password, limits.passwordHashCost);
      });
      const created = await users.create({ name, passwordHash, created: Date.now() });
      if (!created) throw new AppError("E_CONFLICT", "that username is taken");
      return name;
    },

    async login(input, address) {
      const { username, password } = input;
      if (typeof username !== "string" || typeof password !== "string" || password.length > 128) {
        throw new AppError("E_UNAUTHORIZED", BAD_LOGIN);
      }
      return hashGate.run(async () => {
        // Counted per name and address, so one attacker cannot lock a user out everywhere.
        await loginLimits.attempt(username, address);
        // Any name is a key (an unknown one finds nothing): find fails only when Redis does, and
        // that must reach the client as an outage, never as a wrong password counted against it.
        const account = await users.find(username);
        const ok = await verifyPassword(password, account?.passwordHash ?? DUMMY_HASHES[limits.passwordHashCost]);
        if (!account || !ok) {
          await loginLimits.failed(username, address);
          throw new AppError("E_UNAUTHORIZED", BAD_LOGIN);
        }
        await loginLimits.succeeded(username, address);
        return account.name;
      });
    },
  };
}
