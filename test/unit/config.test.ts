import t from "tap";
import { loadConfig, MALLOC_TUNING } from "../../src/config.js";
import { ConfigError } from "../../src/lib/errors.js";

const problemsOf = (env: Record<string, string>): readonly string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

t.test("loadConfig > empty environment > development defaults, frozen", async (t) => {
  const config = loadConfig({});
  t.equal(config.port, 3000);
  t.equal(config.host, "0.0.0.0");
  t.ok(config.workers >= 1);
  t.equal(config.adapter, "redis");
  t.equal(config.sessionCookie, "jsessionid");
  t.equal(config.redisUrl, undefined);
  t.equal(config.sessionSecret, undefined);
  t.equal(config.limits.messageMaxChars, 2000);
  t.equal(config.limits.sendRate, 10);
  t.equal(config.limits.sendBurst, 20);
  t.equal(config.limits.historyLimit, 10_000);
  t.equal(config.limits.searchScanMax, 5000);
  t.equal(config.presenceRoomMax, 500);
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.limits));
});

t.test("loadConfig > PORT=0 > allowed (the OS picks a port)", async (t) => {
  t.equal(loadConfig({ PORT: "0" }).port, 0);
});

t.test("loadConfig > several bad values > one error naming every variable", async (t) => {
  const problems = problemsOf({
    PORT: "70000",
    WORKERS: "0",
    ADAPTER: "zeromq",
    LOG_LEVEL: "loud",
    SEND_RATE: "fast",
    REDIS_URL: "http://x",
    PRESENCE_ROOM_MAX: "-1",
  });
  for (const name of ["PORT", "WORKERS", "ADAPTER", "LOG_LEVEL", "SEND_RATE", "REDIS_URL", "PRESENCE_ROOM_MAX"]) {
    t.ok(
      problems.some((p) => p.startsWith(`${name}:`)),
      `${name} reported`,
    );
  }
});

t.test("loadConfig > production without SESSION_SECRET > refused", async (t) => {
  t.match(problemsOf({ NODE_ENV: "production" }), [/SESSION_SECRET/]);
  t.match(problemsOf({ SESSION_SECRET: "short" }), [/at least 32/]);
  const secret = "s".repeat(40);
  t.equal(loadConfig({ NODE_ENV: "production", SESSION_SECRET: secret }).sessionSecret, secret);
});

t.test("loadConfig > VCAP_SERVICES with a bound Redis > its URL", async (t) => {
  const byUri = JSON.stringify({ "p.redis": [{ label: "p.redis", credentials: { uri: "redis://:pw@10.0.0.5:6379" } }] });
  t.equal(loadConfig({ VCAP_SERVICES: byUri }).redisUrl, "redis://:pw@10.0.0.5:6379");
  const byParts = JSON.stringify({ "user-provided": [{ tags: ["redis"], credentials: { host: "db", port: 6380, password: "p w" } }] });
  t.equal(loadConfig({ VCAP_SERVICES: byParts }).redisUrl, "redis://:p%20w@db:6380");
  t.equal(loadConfig({ VCAP_SERVICES: byUri, REDIS_URL: "redis://mine:6379" }).redisUrl, "redis://mine:6379", "REDIS_URL wins");
  t.match(problemsOf({ VCAP_SERVICES: "{" }), [/VCAP_SERVICES/]);
});

t.test("loadConfig > TRUST_PROXY forms > express values", async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: "1" }).trustProxy, 1);
  t.equal(loadConfig({ TRUST_PROXY: "loopback, 10.0.0.0/8" }).trustProxy, "loopback, 10.0.0.0/8");
  t.equal(loadConfig({ TRUST_PROXY: "::1,192.0.2.10" }).trustProxy, "::1, 192.0.2.10");
  t.equal(loadConfig({}).trustProxy, false);
  t.match(problemsOf({ TRUST_PROXY: "10.0.0.0/40" }), [/TRUST_PROXY: "10.0.0.0\/40"/]);
  t.match(problemsOf({ TRUST_PROXY: "proxy.example.com" }), [/TRUST_PROXY/]);
});

t.test("loadConfig > TRUST_PROXY=true > refused in production, a warning elsewhere", async (t) => {
  const secret = "s".repeat(40);
  t.match(problemsOf({ NODE_ENV: "production", SESSION_SECRET: secret, TRUST_PROXY: "true" }), [/TRUST_PROXY: refused/]);
  const dev = loadConfig({ TRUST_PROXY: "true" });
  t.equal(dev.trustProxy, true);
  t.match(dev.warnings, [/X-Forwarded-For/]);
  t.same(loadConfig({ TRUST_PROXY: "1" }).warnings, []);
});

t.test("loadConfig > PASSWORD_HASH_COST > standard by default, minimal refused in production", async (t) => {
  const secret = "s".repeat(40);
  t.equal(loadConfig({}).limits.passwordHashCost, "standard");
  t.equal(loadConfig({ PASSWORD_HASH_COST: "minimal" }).limits.passwordHashCost, "minimal");
  t.match(problemsOf({ NODE_ENV: "production", SESSION_SECRET: secret, PASSWORD_HASH_COST: "minimal" }), [
    /PASSWORD_HASH_COST: minimal is refused/,
  ]);
  t.match(problemsOf({ PASSWORD_HASH_COST: "cheap" }), [/PASSWORD_HASH_COST/]);
});

t.test("loadConfig > METRICS_ALLOW > loopback by default, addresses, none", async (t) => {
  t.same(loadConfig({}).metricsAllow, ["loopback"]);
  t.same(loadConfig({ METRICS_ALLOW: "10.1.0.0/16, 192.0.2.5" }).metricsAllow, ["10.1.0.0/16", "192.0.2.5"]);
  t.same(loadConfig({ METRICS_ALLOW: "none" }).metricsAllow, []);
  t.match(problemsOf({ METRICS_ALLOW: "prometheus" }), [/METRICS_ALLOW/]);
});

t.test("loadConfig > inconsistent limits > refused", async (t) => {
  t.match(problemsOf({ SESSION_IDLE_TIMEOUT: "7200", SESSION_ABSOLUTE_TIMEOUT: "3600" }), [/SESSION_ABSOLUTE_TIMEOUT/]);
  t.match(problemsOf({ HISTORY_PAGE: "500", HISTORY_PAGE_MAX: "100" }), [/HISTORY_PAGE/]);
  t.match(problemsOf({ SEARCH_PAGE: "60", SEARCH_PAGE_MAX: "50" }), [/SEARCH_PAGE/]);
  t.match(problemsOf({ SEARCH_SCAN_MAX: "5" }), [/SEARCH_SCAN_MAX/]);
  t.match(problemsOf({ ALLOWED_ORIGINS: "chat.example.com" }), [/ALLOWED_ORIGINS/]);
});

t.test("loadConfig > workers' allocator > auto, with the glibc tuning and no preload", async (t) => {
  t.same(loadConfig({}).workerAllocator, { choice: "auto", glibcTuning: MALLOC_TUNING, preload: undefined });
  t.equal(MALLOC_TUNING.MALLOC_ARENA_MAX, "1");
  t.equal(loadConfig({ WORKER_ALLOCATOR: "glibc", LD_PRELOAD: "/opt/x.so" }).workerAllocator.preload, "/opt/x.so");
  t.match(problemsOf({ WORKER_ALLOCATOR: "tcmalloc" }), [/WORKER_ALLOCATOR/]);
});

t.test("loadConfig > malloc variables the operator set > inherited as they are, not overridden", async (t) => {
  const env = loadConfig({ MALLOC_ARENA_MAX: "4" }).workerAllocator.glibcTuning;
  t.notOk("MALLOC_ARENA_MAX" in env, "cluster.fork passes the operator's value on by itself");
  t.equal(env.MALLOC_TRIM_THRESHOLD_, MALLOC_TUNING.MALLOC_TRIM_THRESHOLD_);
});

t.test("loadConfig > REDIS_SENTINELS with a name > Sentinel topology, no REDIS_URL", async (t) => {
  const config = loadConfig({
    REDIS_SENTINELS: "10.0.0.1:26379, sentinel-b:26380,[::1]:26381",
    REDIS_SENTINEL_NAME: "chat",
    REDIS_PASSWORD: "node-secret",
    REDIS_SENTINEL_PASSWORD: "sentinel-secret",
    REDIS_TLS: "true",
  });
  t.equal(config.redisUrl, undefined);
  t.same(config.redisSentinel, {
    sentinels: [
      { host: "10.0.0.1", port: 26379 },
      { host: "sentinel-b", port: 26380 },
      { host: "::1", port: 26381 },
    ],
    name: "chat",
    password: "node-secret",
    sentinelPassword: "sentinel-secret",
    tls: true,
  });
  t.equal(loadConfig({}).redisSentinel, undefined);
});

t.test("loadConfig > bad Sentinel settings > each named", async (t) => {
  t.match(problemsOf({ REDIS_SENTINELS: "10.0.0.1:26379" }), [/REDIS_SENTINEL_NAME: required/]);
  t.match(problemsOf({ REDIS_SENTINELS: "10.0.0.1", REDIS_SENTINEL_NAME: "chat" }), [/REDIS_SENTINELS: "10.0.0.1" is not host:port/]);
  t.match(problemsOf({ REDIS_SENTINELS: "h:70000", REDIS_SENTINEL_NAME: "chat" }), [/REDIS_SENTINELS: "h:70000"/]);
  t.match(problemsOf({ REDIS_SENTINELS: "h:1", REDIS_SENTINEL_NAME: "chat", REDIS_URL: "redis://x:6379" }), [/REDIS_URL: set either/]);
  t.match(problemsOf({ REDIS_SENTINELS: "h:1", REDIS_SENTINEL_NAME: "chat", REDIS_TLS: "yes" }), [/REDIS_TLS: expected true or false/]);
  const alone = problemsOf({ REDIS_SENTINEL_NAME: "chat", REDIS_PASSWORD: "p", REDIS_TLS: "true" });
  for (const name of ["REDIS_SENTINEL_NAME", "REDIS_PASSWORD", "REDIS_TLS"]) {
    t.ok(
      alone.some((p) => p.startsWith(`${name}: only used with REDIS_SENTINELS or REDIS_CLUSTER_NODES`)),
      `${name} without REDIS_SENTINELS reported`,
    );
  }
});

t.test("loadConfig > REDIS_CLUSTER_NODES > cluster topology with password and TLS, no REDIS_URL or Sentinel", async (t) => {
  const config = loadConfig({
    REDIS_CLUSTER_NODES: "10.0.0.1:7000, node-b:7001,[::1]:7002",
    REDIS_PASSWORD: "node-secret",
    REDIS_TLS: "true",
  });
  t.equal(config.redisUrl, undefined);
  t.equal(config.redisSentinel, undefined);
  t.same(config.redisCluster, {
    nodes: [
      { host: "10.0.0.1", port: 7000 },
      { host: "node-b", port: 7001 },
      { host: "::1", port: 7002 },
    ],
    password: "node-secret",
    tls: true,
  });
  t.equal(loadConfig({}).redisCluster, undefined);
});

t.test("loadConfig > bad cluster settings > each named", async (t) => {
  t.match(problemsOf({ REDIS_CLUSTER_NODES: "10.0.0.1" }), [/REDIS_CLUSTER_NODES: "10.0.0.1" is not host:port/]);
  t.match(problemsOf({ REDIS_CLUSTER_NODES: "h:1,h:0" }), [/REDIS_CLUSTER_NODES: "h:0"/]);
  t.match(problemsOf({ REDIS_CLUSTER_NODES: "h:1", REDIS_TLS: "on" }), [/REDIS_TLS: expected true or false/]);
  t.match(problemsOf({ REDIS_CLUSTER_NODES: "h:1", REDIS_URL: "redis://x:6379" }), [/REDIS_URL: not used with REDIS_CLUSTER_NODES/]);
  t.match(problemsOf({ REDIS_CLUSTER_NODES: "h:1", REDIS_SENTINELS: "h:2", REDIS_SENTINEL_NAME: "chat" }), [
    /REDIS_SENTINELS: not used with REDIS_CLUSTER_NODES/,
    /REDIS_SENTINEL_NAME: not used with REDIS_CLUSTER_NODES/,
  ]);
});

t.test("loadConfig > REDIS_WAIT_* > off by default, bounded", async (t) => {
  t.same(loadConfig({}).redisWait, { replicas: 0, timeoutMs: 500 });
  t.same(loadConfig({ REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT_MS: "250" }).redisWait, { replicas: 1, timeoutMs: 250 });
  t.match(problemsOf({ REDIS_WAIT_REPLICAS: "-1", REDIS_WAIT_TIMEOUT_MS: "5000" }), [/REDIS_WAIT_REPLICAS/, /REDIS_WAIT_TIMEOUT_MS/]);
});
