import type { Limits } from "../config.js";
import { parsePassword, parseUsername, usernameKey } from "../domain/names.js";
import { AppError } from "../lib/errors.js";
import { DUMMY_HASH, hashPassword, verifyPassword } from "../lib/passwords.js";
import type { RateLimiter } from "../store/rate-limits.js";
import type { UserStore } from "../store/users.js";

export interface Credentials {
  username: unknown;
  password: unknown;
}

export interface Accounts {
  /** @returns the new user's name. @throws E_INVALID, E_CONFLICT, E_RATE_LIMITED. */
  register(input: Credentials, address: string): Promise<string>;
  /** @returns the user's name as registered. @throws E_UNAUTHORIZED (always generic), E_RATE_LIMITED. */
  login(input: Credentials, address: string): Promise<string>;
}

const BAD_LOGIN = "invalid username or password";

export function createAccounts(users: UserStore, limiter: RateLimiter, limits: Limits): Accounts {
  return {
    async register(input, address) {
      await limiter.hit("register", address, limits.registerRate, 3600);
      const name = parseUsername(input.username);
      const password = parsePassword(input.password);
      const created = await users.create({ name, passwordHash: await hashPassword(password), created: Date.now() });
      if (!created) throw new AppError("E_CONFLICT", "that username is taken");
      return name;
    },

    async login(input, address) {
      if (typeof input.username !== "string" || typeof input.password !== "string" || input.password.length > 128) {
        throw new AppError("E_UNAUTHORIZED", BAD_LOGIN);
      }
      // Failures are counted per name and address, so one attacker cannot lock a user out everywhere.
      const subject = `${usernameKey(input.username).slice(0, 64)}|${address}`;
      await limiter.check("login", subject, limits.loginRate);
      const account = await users.find(input.username).catch((err) => {
        if (err instanceof AppError) throw err;
        return undefined; // a malformed name is simply unknown
      });
      const ok = await verifyPassword(input.password, account?.passwordHash ?? (await DUMMY_HASH));
      if (!account || !ok) {
        await limiter.hit("login", subject, Number.MAX_SAFE_INTEGER, limits.loginWindowSeconds);
        throw new AppError("E_UNAUTHORIZED", BAD_LOGIN);
      }
      await limiter.reset("login", subject);
      return account.name;
    },
  };
}
