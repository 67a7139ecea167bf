import { isIP } from "node:net";
import { availableParallelism, hostname } from "node:os";
import { resolve } from "node:path";
import { ConfigError } from "./lib/errors.js";
import { HASH_COSTS, type HashCost } from "./lib/passwords.js";

export type AdapterKind = "redis" | "cluster";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Every knob an operator or a load test may turn; each has an environment variable (README). */
export interface Limits {
  /** Characters of a message after trimming (MESSAGE_MAX_CHARS). */
  readonly messageMaxChars: number;
  /** UTF-8 bytes of a message (MESSAGE_MAX_BYTES). */
  readonly messageMaxBytes: number;
  /** socket.io maxHttpBufferSize in bytes (SOCKET_MAX_BYTES). */
  readonly socketMaxBytes: number;
  /** Sustained messages per second per user, shared by all of the user's sockets (SEND_RATE). */
  readonly sendRate: number;
  /** Messages a user may send at once before the rate applies (SEND_BURST). */
  readonly sendBurst: number;
  /** Messages kept per conversation (HISTORY_LIMIT). */
  readonly historyLimit: number;
  /** Messages in a default history page (HISTORY_PAGE). */
  readonly historyPage: number;
  /** Largest history page a client may ask for (HISTORY_PAGE_MAX). */
  readonly historyPageMax: number;
  /** Most missed messages replayed per conversation on reconnect before it is truncated (CATCHUP_MAX). */
  readonly catchupMax: number;
  /**
   * Login attempts per username and address before each further one must wait a delay that
   * doubles (1 s, 2 s, 4 s … up to LOGIN_WINDOW); a success clears them (LOGIN_RATE).
   */
  readonly loginRate: number;
  /** Seconds after the last attempt when a username and address, or an address, starts afresh (LOGIN_WINDOW). */
  readonly loginWindowSeconds: number;
  /** Failed login attempts per address over every username in LOGIN_WINDOW (LOGIN_ADDRESS_RATE). */
  readonly loginAddressRate: number;
  /**
   * Password hashes (login or registration) a worker runs at once (PASSWORD_HASH_MAX_IN_FLIGHT);
   * beyond it those requests get 429 at once, so spraying cannot queue CPU and memory without bound.
   */
  readonly hashMaxInFlight: number;
  /** What a new password hash costs (PASSWORD_HASH_COST): `standard`, or `minimal` outside production. */
  readonly passwordHashCost: HashCost;
  /** Registrations per address per hour (REGISTER_RATE). */
  readonly registerRate: number;
  /** socket.io connections per user per minute (CONNECT_RATE). */
  readonly connectRate: number;
  /**
   * Sends a worker may have waiting on Redis at once (SEND_MAX_IN_FLIGHT); beyond it, sends are
   * refused at once with E_RATE_LIMITED, so overload is shed instead of queued without bound.
   */
  readonly sendMaxInFlight: number;
  /** Milliseconds a connection may take to send a request head (HTTP_HEADERS_TIMEOUT_MS). */
  readonly httpHeadersTimeoutMs: number;
  /** Milliseconds a connection may take to send a whole request, body included (HTTP_REQUEST_TIMEOUT_MS). */
  readonly httpRequestTimeoutMs: number;
  /** Client events per second per socket, of every kind (EVENT_RATE), after a burst of EVENT_BURST. */
  readonly eventRate: number;
  readonly eventBurst: number;
  /** Client events per second per user over its sockets on one worker (USER_EVENT_RATE, USER_EVENT_BURST). */
  readonly userEventRate: number;
  readonly userEventBurst: number;
  /** Open sockets per user over every worker and host (SOCKETS_PER_USER). */
  readonly socketsPerUser: number;
  /** Rooms a user may be a member of, #general included (ROOMS_PER_USER). */
  readonly roomsPerUser: number;
  /** Rooms a user may create per hour (ROOM_CREATE_RATE). */
  readonly roomCreateRate: number;
  /** Rooms in a `rooms:list` page unless the client asks for fewer (ROOMS_PAGE). */
  readonly roomsPage: number;
  /** Members in a `room:members` page unless the client asks for fewer (MEMBERS_PAGE). */
  readonly membersPage: number;
  /** Minimum milliseconds between two typing events of one socket (TYPING_INTERVAL_MS). */
  readonly typingIntervalMs: number;
  /**
   * Stream entries one `search` request may read, over all the user's conversations
   * (SEARCH_SCAN_MAX); the reply's cursor resumes where it stopped.
   */
  readonly searchScanMax: number;
  /** Matches in a default search page (SEARCH_PAGE). */
  readonly searchPage: number;
  /** Largest search page a client may ask for (SEARCH_PAGE_MAX). */
  readonly searchPageMax: number;
}

/** A Redis node or sentinel address. */
export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** A primary with replicas under Redis Sentinel (REDIS_SENTINELS and friends). */
export interface SentinelConfig {
  /** Sentinels to ask for the primary; the others are discovered from them. */
  readonly sentinels: readonly RedisNodeAddress[];
  /** The primary's name as the sentinels monitor it (REDIS_SENTINEL_NAME). */
  readonly name: string;
  /** AUTH for the primary and replicas (REDIS_PASSWORD). */
  readonly password: string | undefined;
  /** AUTH for the sentinels (REDIS_SENTINEL_PASSWORD). */
  readonly sentinelPassword: string | undefined;
  /** TLS to the sentinels and the nodes (REDIS_TLS). */
  readonly tls: boolean;
}

/** A Redis Cluster (REDIS_CLUSTER_NODES and friends). */
export interface ClusterConfig {
  /** Nodes to ask for the slot map; the others are discovered from them. */
  readonly nodes: readonly RedisNodeAddress[];
  /** AUTH for every node (REDIS_PASSWORD). */
  readonly password: string | undefined;
  /** TLS to every node (REDIS_TLS). */
  readonly tls: boolean;
}

/**
 * Whether an acknowledged send waits until replicas have it (REDIS_WAIT_REPLICAS,
 * REDIS_WAIT_TIMEOUT_MS): Redis replicates asynchronously, so a primary that dies right after a
 * write can take it along; after WAIT, a promoted replica has it.
 */
export interface ReplicaWait {
  /** Replicas that must have a batch before its sends are acknowledged; 0 = do not wait. */
  readonly replicas: number;
  readonly timeoutMs: number;
}

export interface Config {
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly workers: number;
  /** Redis to use; undefined means "local default": 127.0.0.1:6379, else an embedded redis-server. */
  readonly redisUrl: string | undefined;
  /** The local Redis the development default looks for before starting its own (REDIS_LOCAL_URL). */
  readonly redisLocalUrl: string;
  /** Set when Redis is a Sentinel-managed primary; then redisUrl is undefined. */
  readonly redisSentinel: SentinelConfig | undefined;
  /** Set when Redis is a Redis Cluster; then redisUrl and redisSentinel are undefined. */
  readonly redisCluster: ClusterConfig | undefined;
  readonly redisWait: ReplicaWait;
  readonly redisPrefix: string;
  readonly adapter: AdapterKind;
  /** undefined outside production: the workers share one generated secret kept in Redis. */
  readonly sessionSecret: string | undefined;
  readonly sessionCookie: string;
  readonly sessionIdleSeconds: number;
  readonly sessionAbsoluteSeconds: number;
  /** How often a worker checks its sockets' sessions: idle, absolute expiry, ended elsewhere (SESSION_CHECK_INTERVAL_MS). */
  readonly sessionCheckIntervalMs: number;
  /**
   * Express "trust proxy": false, a hop count or a list of proxy addresses; true (trust every
   * hop, so any client chooses its own address) only outside production, with a warning.
   */
  readonly trustProxy: boolean | number | string;
  /** Who may read GET /metrics, by the connection's own address (METRICS_ALLOW); empty: nobody. */
  readonly metricsAllow: readonly string[];
  /** Settings that work but that an operator should hear about at start. */
  readonly warnings: readonly string[];
  /** Browser origins allowed besides the server's own (ALLOWED_ORIGINS, comma separated). */
  readonly allowedOrigins: readonly string[];
  readonly logLevel: LogLevel;
  /** How long a worker may drain on SIGTERM before it is killed. */
  readonly shutdownTimeoutMs: number;
  /** The same for each old worker of a rolling restart (SIGHUP), which drains at the new ones' pace. */
  readonly restartTimeoutMs: number;
  /** Seconds without a heartbeat after which a worker's users count as gone (PRESENCE_TTL). */
  readonly presenceTtlSeconds: number;
  /**
   * Rooms of up to this many members carry their members' presence to each other (PRESENCE_ROOM_MAX);
   * larger ones, #general of a large deployment among them, do not: presence then costs a worker
   * only the conversations its sockets share with the user, never the whole deployment's comings
   * and goings. Direct conversations always carry it.
   */
  readonly presenceRoomMax: number;
  /** Where the embedded redis-server keeps its append-only file. */
  readonly dataDir: string;
  /** The host's name as clients see it in `welcome.instance`. */
  readonly hostName: string;
  /** The workers' malloc (primary/allocator.ts). */
  readonly workerAllocator: WorkerAllocatorConfig;
  readonly limits: Limits;
}

export interface WorkerAllocatorConfig {
  /** WORKER_ALLOCATOR: jemalloc when installed (auto), jemalloc or else an error, or glibc's malloc. */
  readonly choice: "auto" | "jemalloc" | "glibc";
  /** MALLOC_TUNING, except what the operator set (a variable set reaches the workers by itself). */
  readonly glibcTuning: Readonly<Record<string, string>>;
  /** The operator's own LD_PRELOAD, if any. */
  readonly preload: string | undefined;
}

/**
 * glibc's malloc gives every thread that allocates (V8's GC and compiler helpers, libuv's pool) an
 * arena of its own, and keeps the memory freed in each. A worker is one JavaScript thread holding
 * thousands of small long-lived connections: one arena and a fixed trim threshold keep an idle
 * connection's RSS lower at no CPU cost (docs/decisions.md). Other C libraries ignore these variables.
 */
export const MALLOC_TUNING: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "1",
  MALLOC_TRIM_THRESHOLD_: "131072",
};

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Reads, validates and freezes the configuration. This is the only reader of the environment.
 * @throws ConfigError naming every invalid variable at once.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const warnings: string[] = [];
  const read = new EnvReader(env, problems);
  const production = env.NODE_ENV === "production";

  const sessionSecret = env.SESSION_SECRET || undefined;
  if (sessionSecret === undefined && production) {
    problems.push("SESSION_SECRET: required when NODE_ENV=production");
  } else if (sessionSecret !== undefined && sessionSecret.length < 32) {
    problems.push("SESSION_SECRET: must be at least 32 characters");
  }

  const config: Config = {
    production,
    host: env.HOST || "0.0.0.0",
    port: read.int("PORT", 3000, 0, 65535),
    workers: read.int("WORKERS", availableParallelism(), 1, 256),
    redisUrl: env.REDIS_SENTINELS || env.REDIS_CLUSTER_NODES ? undefined : readRedisUrl(env, problems),
    redisSentinel: env.REDIS_CLUSTER_NODES ? undefined : readSentinel(env, problems),
    redisCluster: readCluster(env, problems),
    redisWait: {
      replicas: read.int("REDIS_WAIT_REPLICAS", 0, 0, 16),
      // Below the 5 s after which a connection counts as hung (store/redis.ts): WAIT holds it.
      timeoutMs: read.int("REDIS_WAIT_TIMEOUT_MS", 500, 1, 4000),
    },
    redisLocalUrl: env.REDIS_LOCAL_URL || "redis://127.0.0.1:6379",
    redisPrefix: read.pattern("REDIS_PREFIX", "chat:", /^[\w:.-]{1,64}$/, "1-64 of letters, digits, _ : . -"),
    adapter: read.oneOf("ADAPTER", "redis", ["redis", "cluster"] as const),
    sessionSecret,
    sessionCookie: read.pattern("SESSION_COOKIE", "jsessionid", /^[\w.-]{1,64}$/, "a cookie name"),
    sessionIdleSeconds: read.int("SESSION_IDLE_TIMEOUT", 86_400, 60, 31_536_000),
    sessionAbsoluteSeconds: read.int("SESSION_ABSOLUTE_TIMEOUT", 604_800, 60, 31_536_000),
    sessionCheckIntervalMs: read.int("SESSION_CHECK_INTERVAL_MS", 30_000, 100, 3_600_000),
    trustProxy: readTrustProxy(env, production, problems, warnings),
    metricsAllow: readAddresses("METRICS_ALLOW", env.METRICS_ALLOW ?? "loopback", problems),
    warnings,
    allowedOrigins: readOrigins(env, problems),
    logLevel: read.oneOf("LOG_LEVEL", "info", LOG_LEVELS),
    shutdownTimeoutMs: read.int("SHUTDOWN_TIMEOUT_MS", 10_000, 100, 600_000),
    restartTimeoutMs: read.int("RESTART_TIMEOUT_MS", 60_000, 100, 600_000),
    presenceTtlSeconds: read.int("PRESENCE_TTL", 15, 3, 3600),
    presenceRoomMax: read.int("PRESENCE_ROOM_MAX", 500, 0, 100_000),
    dataDir: resolve(env.DATA_DIR || ".data"),
    hostName: env.INSTANCE_HOST || hostname(),
    workerAllocator: {
      choice: read.oneOf("WORKER_ALLOCATOR", "auto", ["auto", "jemalloc", "glibc"] as const),
      // A variable the operator set reaches the workers by itself (cluster.fork inherits the environment).
      glibcTuning: Object.fromEntries(Object.entries(MALLOC_TUNING).filter(([name]) => env[name] === undefined)),
      preload: env.LD_PRELOAD || undefined,
    },
    limits: {
      messageMaxChars: read.int("MESSAGE_MAX_CHARS", 2000, 1, 100_000),
      messageMaxBytes: read.int("MESSAGE_MAX_BYTES", 8192, 16, 1_000_000),
      socketMaxBytes: read.int("SOCKET_MAX_BYTES", 65_536, 1024, 10_000_000),
      sendRate: read.int("SEND_RATE", 10, 1, 1_000_000),
      sendBurst: read.int("SEND_BURST", 20, 1, 1_000_000),
      historyLimit: read.int("HISTORY_LIMIT", 10_000, 10, 10_000_000),
      historyPage: read.int("HISTORY_PAGE", 50, 1, 1000),
      historyPageMax: read.int("HISTORY_PAGE_MAX", 200, 1, 10_000),
      catchupMax: read.int("CATCHUP_MAX", 1000, 1, 100_000),
      loginRate: read.int("LOGIN_RATE", 10, 1, 1_000_000),
      loginWindowSeconds: read.int("LOGIN_WINDOW", 900, 1, 86_400),
      loginAddressRate: read.int("LOGIN_ADDRESS_RATE", 100, 1, 10_000_000),
      hashMaxInFlight: read.int("PASSWORD_HASH_MAX_IN_FLIGHT", 8, 1, 10_000),
      passwordHashCost: read.oneOf("PASSWORD_HASH_COST", "standard", HASH_COSTS),
      registerRate: read.int("REGISTER_RATE", 20, 1, 1_000_000),
      connectRate: read.int("CONNECT_RATE", 120, 1, 10_000_000),
      sendMaxInFlight: read.int("SEND_MAX_IN_FLIGHT", 5000, 1, 1_000_000),
      typingIntervalMs: read.int("TYPING_INTERVAL_MS", 1500, 0, 60_000),
      searchScanMax: read.int("SEARCH_SCAN_MAX", 5000, 10, 1_000_000),
      searchPage: read.int("SEARCH_PAGE", 20, 1, 1000),
      searchPageMax: read.int("SEARCH_PAGE_MAX", 50, 1, 1000),
      eventRate: read.int("EVENT_RATE", 20, 1, 10_000_000),
      eventBurst: read.int("EVENT_BURST", 60, 1, 10_000_000),
      userEventRate: read.int("USER_EVENT_RATE", 50, 1, 10_000_000),
      userEventBurst: read.int("USER_EVENT_BURST", 150, 1, 10_000_000),
      socketsPerUser: read.int("SOCKETS_PER_USER", 20, 1, 1_000_000),
      roomsPerUser: read.int("ROOMS_PER_USER", 100, 1, 1_000_000),
      roomCreateRate: read.int("ROOM_CREATE_RATE", 20, 1, 1_000_000),
      roomsPage: read.int("ROOMS_PAGE", 100, 1, 10_000),
      membersPage: read.int("MEMBERS_PAGE", 200, 1, 10_000),
      // Node's defaults on a listening server.
      httpHeadersTimeoutMs: read.int("HTTP_HEADERS_TIMEOUT_MS", 60_000, 100, 3_600_000),
      httpRequestTimeoutMs: read.int("HTTP_REQUEST_TIMEOUT_MS", 300_000, 100, 3_600_000),
    },
  };
  if (production && config.limits.passwordHashCost === "minimal") {
    problems.push("PASSWORD_HASH_COST: minimal is refused when NODE_ENV=production (it is for tests and development)");
  }
  if (config.sessionAbsoluteSeconds < config.sessionIdleSeconds) {
    problems.push("SESSION_ABSOLUTE_TIMEOUT: must not be shorter than SESSION_IDLE_TIMEOUT");
  }
  if (config.limits.httpRequestTimeoutMs < config.limits.httpHeadersTimeoutMs) {
    problems.push("HTTP_REQUEST_TIMEOUT_MS: must not be shorter than HTTP_HEADERS_TIMEOUT_MS");
  }
  if (config.limits.historyPage > config.limits.historyPageMax) {
    problems.push("HISTORY_PAGE: must not exceed HISTORY_PAGE_MAX");
  }
  if (config.limits.searchPage > config.limits.searchPageMax) {
    problems.push("SEARCH_PAGE: must not exceed SEARCH_PAGE_MAX");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw.trim() === "") return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
      this.problems.push(`${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name}: expected one of ${allowed.join(", ")}, got "${raw}"`);
    return fallback;
  }

  pattern(name: string, fallback: string, re: RegExp, expected: string): string {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    if (re.test(raw)) return raw;
    this.problems.push(`${name}: expected ${expected}, got "${raw}"`);
    return fallback;
  }
}

function readRedisUrl(env: Env, problems: string[]): string | undefined {
  const explicit = env.REDIS_URL || undefined;
  const url = explicit ?? readVcapRedis(env.VCAP_SERVICES, problems);
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw new Error("scheme");
  } catch {
    problems.push(`${explicit ? "REDIS_URL" : "VCAP_SERVICES"}: expected a redis:// or rediss:// URL`);
    return undefined;
  }
  return url;
}

/** REDIS_SENTINELS=host:port,... selects Sentinel; its companions are refused without it. */
function readSentinel(env: Env, problems: string[]): SentinelConfig | undefined {
  const raw = env.REDIS_SENTINELS;
  if (!raw) {
    for (const name of ["REDIS_SENTINEL_NAME", "REDIS_SENTINEL_PASSWORD", "REDIS_PASSWORD", "REDIS_TLS"]) {
      if (env[name])
        problems.push(`${name}: only used with REDIS_SENTINELS or REDIS_CLUSTER_NODES (put a password or rediss:// in REDIS_URL)`);
    }
    return undefined;
  }
  if (env.REDIS_URL) problems.push("REDIS_URL: set either REDIS_URL or REDIS_SENTINELS, not both");
  const name = env.REDIS_SENTINEL_NAME ?? "";
  if (!/^[\w.-]{1,64}$/.test(name))
    problems.push(`REDIS_SENTINEL_NAME: required with REDIS_SENTINELS, 1-64 of letters, digits, _ . -, got "${name}"`);
  return {
    sentinels: readAddressList("REDIS_SENTINELS", raw, problems),
    name,
    password: env.REDIS_PASSWORD || undefined,
    sentinelPassword: env.REDIS_SENTINEL_PASSWORD || undefined,
    tls: readTls(env, problems),
  };
}

/** REDIS_CLUSTER_NODES=host:port,... selects a Redis Cluster; REDIS_PASSWORD and REDIS_TLS apply to every node. */
function readCluster(env: Env, problems: string[]): ClusterConfig | undefined {
  const raw = env.REDIS_CLUSTER_NODES;
  if (!raw) return undefined;
  for (const name of ["REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_NAME", "REDIS_SENTINEL_PASSWORD"]) {
    if (env[name]) problems.push(`${name}: not used with REDIS_CLUSTER_NODES (set one Redis topology)`);
  }
  return {
    nodes: readAddressList("REDIS_CLUSTER_NODES", raw, problems),
    password: env.REDIS_PASSWORD || undefined,
    tls: readTls(env, problems),
  };
}

function readAddressList(name: string, raw: string, problems: string[]): RedisNodeAddress[] {
  const addresses: RedisNodeAddress[] = [];
  for (const entry of raw.split(",").map((part) => part.trim())) {
    const address = parseHostPort(entry);
    if (address) addresses.push(address);
    else problems.push(`${name}: "${entry}" is not host:port (IPv6 as [::1]:6379)`);
  }
  return addresses;
}

function readTls(env: Env, problems: string[]): boolean {
  const tls = env.REDIS_TLS ?? "false";
  if (tls !== "true" && tls !== "false") problems.push(`REDIS_TLS: expected true or false, got "${tls}"`);
  return tls === "true";
}

function parseHostPort(entry: string): RedisNodeAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([\w.-]+)):(\d{1,5})$/.exec(entry);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!host || !(port >= 1 && port <= 65535)) return undefined;
  return { host, port };
}

interface VcapCredentials {
  uri?: unknown;
  url?: unknown;
  host?: unknown;
  hostname?: unknown;
  port?: unknown;
  password?: unknown;
  tls_enabled?: unknown;
}

/** Cloud Foundry puts a bound service's credentials in VCAP_SERVICES; take the first Redis one. */
function readVcapRedis(raw: string | undefined, problems: string[]): string | undefined {
  if (!raw) return undefined;
  let services: Record<string, { label?: string; tags?: string[]; credentials?: VcapCredentials }[]>;
  try {
    services = JSON.parse(raw);
  } catch {
    problems.push("VCAP_SERVICES: not valid JSON");
    return undefined;
  }
  for (const [label, instances] of Object.entries(services ?? {})) {
    for (const instance of Array.isArray(instances) ? instances : []) {
      const isRedis = /redis/i.test(label) || (instance.tags ?? []).some((t) => /redis/i.test(t));
      const c = instance.credentials;
      if (!isRedis || !c) continue;
      for (const candidate of [c.uri, c.url]) {
        if (typeof candidate === "string" && /^rediss?:\/\//.test(candidate)) return candidate;
      }
      const host = typeof c.hostname === "string" ? c.hostname : c.host;
      if (typeof host === "string" && (typeof c.port === "number" || typeof c.port === "string")) {
        const auth = typeof c.password === "string" ? `:${encodeURIComponent(c.password)}@` : "";
        const scheme = c.tls_enabled === true ? "rediss" : "redis";
        return `${scheme}://${auth}${host}:${c.port}`;
      }
    }
  }
  return undefined;
}

const TRUST_TRUE_RISK =
  "TRUST_PROXY=true trusts every X-Forwarded-For hop, so any client can choose its own address and walk around the per-address limits; give the number of proxies in front (1 behind one HAProxy) or their addresses";

function readTrustProxy(env: Env, production: boolean, problems: string[], warnings: string[]): boolean | number | string {
  const raw = env.TRUST_PROXY?.trim();
  if (raw === undefined || raw === "" || raw === "false") return false;
  if (raw === "true") {
    if (production) problems.push(`TRUST_PROXY: refused when NODE_ENV=production. ${TRUST_TRUE_RISK}`);
    else warnings.push(TRUST_TRUE_RISK);
    return !production;
  }
  if (/^\d+$/.test(raw)) return Number(raw);
  return readAddresses("TRUST_PROXY", raw, problems).join(", ") || false;
}

/** Express's names for address ranges (proxy-addr), accepted wherever addresses are. */
const NAMED_RANGES = ["loopback", "linklocal", "uniquelocal"];

/** A comma-separated list of IP addresses, CIDR ranges or NAMED_RANGES; "none" or "" is empty. */
function readAddresses(name: string, raw: string, problems: string[]): string[] {
  const entries = raw
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "" && entry !== "none");
  for (const entry of entries) {
    if (NAMED_RANGES.includes(entry)) continue;
    const [address = "", bits, extra] = entry.split("/");
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || extra !== undefined) {
      problems.push(`${name}: "${entry}" is not an IP address, a CIDR range or one of ${NAMED_RANGES.join(", ")}`);
    }
  }
  return entries;
}

function readOrigins(env: Env, problems: string[]): string[] {
  const raw = env.ALLOWED_ORIGINS;
  if (!raw) return [];
  const origins = raw
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    if (!/^https?:\/\/[^/]+$/.test(origin)) problems.push(`ALLOWED_ORIGINS: "${origin}" is not an origin like https://chat.example.com`);
  }
  return origins;
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === "object") deepFreeze(child);
  }
  return Object.freeze(value);
}
