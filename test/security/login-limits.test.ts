import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { loadConfig } from "../../src/config.js";
import { createAccounts } from "../../src/http/accounts.js";
import { AppError } from "../../src/lib/errors.js";
import { createHashGate } from "../../src/lib/hash-gate.js";
import { createLogger } from "../../src/lib/logger.js";
import { createKeys } from "../../src/store/keys.js";
import { createLoginLimits } from "../../src/store/login-limits.js";
import { createRateLimiter } from "../../src/store/rate-limits.js";
import { closeRedis, connectRedis, isRedisUnavailable } from "../../src/store/redis.js";
import { createUserStore } from "../../src/store/users.js";
import { PASSWORD, registerUser, uniqueName } from "../helpers/clients.js";
import { startRedis } from "../helpers/redis.js";
import { startServer } from "../helpers/server.js";

const redis = await startRedis();
t.teardown(() => redis.stop());

/** POST /api/login as a client at `address` (the server trusts the loopback test client as its proxy). */
async function login(base: string, username: string, password: string, address = "192.0.2.1") {
  const res = await fetch(`${base}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": address },
    body: JSON.stringify({ username, password }),
  });
  const body = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: body.error?.code, retryAfter: Number(res.headers.get("retry-after") ?? 0) };
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

t.test("login limit > 12 wrong passwords at once, LOGIN_RATE=3 > 3 verified (401), 9 refused (429)", async (t) => {
  const server = await startServer(redis.url, { LOGIN_RATE: "3", TRUST_PROXY: "loopback" });
  t.teardown(() => server.stop());
  const { user } = await registerUser(server.url);
  const replies = await Promise.all(Array.from({ length: 12 }, () => login(server.url, user, "wrong password!")));
  const statuses = replies.map((r) => r.status);
  t.equal(count(statuses, 401), 3, `statuses: ${statuses.join(" ")}`);
  t.equal(count(statuses, 429), 9);
  t.ok(replies.filter((r) => r.status === 429).every((r) => r.code === "E_RATE_LIMITED" && r.retryAfter >= 1));
});

t.test("login limit > past the free attempts > one try per delay, the delay doubling", async (t) => {
  const server = await startServer(redis.url, { LOGIN_RATE: "1", TRUST_PROXY: "loopback" });
  t.teardown(() => server.stop());
  const { user } = await registerUser(server.url);
  // Three at once in each round: they all arrive well within the shortest delay.
  const round = (password: string) => Promise.all([1, 2, 3].map(() => login(server.url, user, password)));
  const first = await round("wrong password!");
  t.same(first.map((r) => r.status).sort(), [401, 429, 429], "the free attempt, then a wait");
  t.same(
    first.filter((r) => r.status === 429).map((r) => r.retryAfter),
    [1, 1],
  );
  await sleep(1100);
  const second = await round("wrong password!");
  t.same(second.map((r) => r.status).sort(), [401, 429, 429], "one try after the delay");
  t.same(
    second.filter((r) => r.status === 429).map((r) => r.retryAfter),
    [2, 2],
    "the delay doubled",
  );
  await sleep(2100);
  t.equal((await login(server.url, user, PASSWORD)).status, 200, "the right password after the delay");
  const afresh = await round("wrong password!");
  t.same(afresh.map((r) => r.status).sort(), [401, 429, 429], "a success starts afresh");
  t.same(
    afresh.filter((r) => r.status === 429).map((r) => r.retryAfter),
    [1, 1],
  );
});

t.test("login limit > attacker at one address > the owner at another still logs in", async (t) => {
  const server = await startServer(redis.url, { LOGIN_RATE: "2", TRUST_PROXY: "loopback" });
  t.teardown(() => server.stop());
  const { user } = await registerUser(server.url);
  const attacks = await Promise.all(Array.from({ length: 6 }, () => login(server.url, user, "guess guess guess", "198.51.100.7")));
  t.ok(
    attacks.some((r) => r.status === 429),
    "the attacker is slowed down",
  );
  t.equal((await login(server.url, user, PASSWORD, "203.0.113.9")).status, 200, "the owner is not locked out");
});

t.test("login limit > one address spraying many names > 429 after LOGIN_ADDRESS_RATE", async (t) => {
  const server = await startServer(redis.url, { LOGIN_ADDRESS_RATE: "5", TRUST_PROXY: "loopback" });
  t.teardown(() => server.stop());
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await login(server.url, uniqueName(), "password spray 1", "198.51.100.8")).status);
  t.same(statuses, [401, 401, 401, 401, 401, 429, 429]);
  t.equal((await login(server.url, uniqueName(), "password spray 1", "198.51.100.9")).status, 401, "other addresses unaffected");
});

t.test("login limit > a success > refunds the address's attempt", async (t) => {
  const server = await startServer(redis.url, { LOGIN_ADDRESS_RATE: "3", TRUST_PROXY: "loopback" });
  t.teardown(() => server.stop());
  const { user } = await registerUser(server.url);
  for (let i = 0; i < 5; i++) t.equal((await login(server.url, user, PASSWORD, "198.51.100.10")).status, 200);
});

t.test("password hashes > more than PASSWORD_HASH_MAX_IN_FLIGHT at once > the rest get 429 at once", async (t) => {
  // A standard hash runs long enough for the other logins to arrive while it does.
  const server = await startServer(redis.url, {
    PASSWORD_HASH_MAX_IN_FLIGHT: "1",
    PASSWORD_HASH_COST: "standard",
    TRUST_PROXY: "loopback",
  });
  t.teardown(() => server.stop());
  const names = Array.from({ length: 6 }, () => uniqueName());
  const replies = await Promise.all(names.map((name, i) => login(server.url, name, "password spray 1", `198.51.100.${20 + i}`)));
  const statuses = replies.map((r) => r.status);
  t.ok(count(statuses, 401) >= 1, `statuses: ${statuses.join(" ")}`);
  t.ok(count(statuses, 429) >= 1, "refused beyond the bound");
  t.equal(count(statuses, 401) + count(statuses, 429), 6, "nothing else");
  t.ok(replies.filter((r) => r.status === 429).every((r) => r.code === "E_RATE_LIMITED"));
});

t.test("registration limit > 8 at once, REGISTER_RATE=3 > exactly 3 created", async (t) => {
  const server = await startServer(redis.url, { REGISTER_RATE: "3" });
  t.teardown(() => server.stop());
  const replies = await Promise.all(
    Array.from({ length: 8 }, () =>
      fetch(`${server.url}/api/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: uniqueName(), password: PASSWORD }),
      }),
    ),
  );
  const statuses = replies.map((r) => r.status);
  t.equal(count(statuses, 200), 3, `statuses: ${statuses.join(" ")}`);
  t.equal(count(statuses, 429), 5);
});

t.test(
  "login > the attempt is counted, then reading the account fails as an outage > the outage reaches the caller, never a 401",
  async (t) => {
    // Accounts on a Redis of their own, so that only the read of the account fails.
    const accountsRedis = await startRedis();
    const log = createLogger("silent", "worker");
    const limitsClient = await connectRedis({ url: redis.url, name: "limits", log });
    const accountsClient = await connectRedis({ url: accountsRedis.url, name: "accounts", log });
    t.teardown(async () => {
      await closeRedis(limitsClient);
      await closeRedis(accountsClient);
      await accountsRedis.stop();
    });
    const keys = createKeys(`t${randomUUID().slice(0, 8)}:`);
    const accounts = createAccounts({
      users: createUserStore(accountsClient, keys),
      limiter: createRateLimiter(limitsClient, keys),
      loginLimits: createLoginLimits(limitsClient, keys, { free: 10, perAddress: 100, windowSeconds: 60 }),
      hashGate: createHashGate(10),
      limits: loadConfig({ REDIS_URL: redis.url }).limits,
    });
    await accountsRedis.kill();
    const failure = await accounts.login({ username: uniqueName(), password: PASSWORD }, "192.0.2.60").then(
      () => undefined,
      (err: unknown) => err,
    );
    t.ok(isRedisUnavailable(failure), `an outage (${String(failure)})`);
    t.notOk(failure instanceof AppError, "not taken for an unknown user or a wrong password");
  },
);
