import { availableParallelism, hostname } from "node:os";
import { resolve } from "node:path";
import { ConfigError } from "./lib/errors.js";

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
  /** Failed logins per username and address in LOGIN_WINDOW seconds (LOGIN_RATE). */
  readonly loginRate: number;
  readonly loginWindowSeconds: number;
  /** Registrations per address per hour (REGISTER_RATE). */
  readonly registerRate: number;
  /** socket.io connections per user per minute (CONNECT_RATE). */
  readonly connectRate: number;
  /**
   * Sends a worker may have waiting on Redis at once (SEND_MAX_IN_FLIGHT); beyond it, sends are
   * refused at once with E_RATE_LIMITED, so overload is shed instead of queued without bound.
   */
  readonly sendMaxInFlight: number;
  /** Minimum milliseconds between two typing events of one socket (TYPING_INTERVAL_MS). */
  readonly typingIntervalMs: number;
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
  readonly redisPrefix: string;
  readonly adapter: AdapterKind;
  /** undefined outside production: the workers share one generated secret kept in Redis. */
  readonly sessionSecret: string | undefined;
  readonly sessionCookie: string;
  readonly sessionIdleSeconds: number;
  readonly sessionAbsoluteSeconds: number;
  /** Express "trust proxy" value: false, true, a hop count or a list of addresses. */
  readonly trustProxy: boolean | number | string;
  /** Browser origins allowed besides the server's own (ALLOWED_ORIGINS, comma separated). */
  readonly allowedOrigins: readonly string[];
  readonly logLevel: LogLevel;
  /** How long a worker may drain on SIGTERM before it is killed. */
  readonly shutdownTimeoutMs: number;
  /** The same for each old worker of a rolling restart (SIGHUP), which drains at the new ones' pace. */
  readonly restartTimeoutMs: number;
  /** Seconds without a heartbeat after which a worker's users count as gone (PRESENCE_TTL). */
  readonly presenceTtlSeconds: number;
  /** Where the embedded redis-server keeps its append-only file. */
  readonly dataDir: string;
  /** The host's name as clients see it in `welcome.instance`. */
  readonly hostName: string;
  /** What the primary adds to its workers' environment: MALLOC_TUNING, except what the operator set. */
  readonly workerMalloc: Readonly<Record<string, string>>;
  readonly limits: Limits;
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
    redisUrl: readRedisUrl(env, problems),
    redisLocalUrl: env.REDIS_LOCAL_URL || "redis://127.0.0.1:6379",
    redisPrefix: read.pattern("REDIS_PREFIX", "chat:", /^[\w:.-]{1,64}$/, "1-64 of letters, digits, _ : . -"),
    adapter: read.oneOf("ADAPTER", "redis", ["redis", "cluster"] as const),
    sessionSecret,
    sessionCookie: read.pattern("SESSION_COOKIE", "jsessionid", /^[\w.-]{1,64}$/, "a cookie name"),
    sessionIdleSeconds: read.int("SESSION_IDLE_TIMEOUT", 86_400, 60, 31_536_000),
    sessionAbsoluteSeconds: read.int("SESSION_ABSOLUTE_TIMEOUT", 604_800, 60, 31_536_000),
    trustProxy: readTrustProxy(env, problems),
    allowedOrigins: readOrigins(env, problems),
    logLevel: read.oneOf("LOG_LEVEL", "info", LOG_LEVELS),
    shutdownTimeoutMs: read.int("SHUTDOWN_TIMEOUT_MS", 10_000, 100, 600_000),
    restartTimeoutMs: read.int("RESTART_TIMEOUT_MS", 60_000, 100, 600_000),
    presenceTtlSeconds: read.int("PRESENCE_TTL", 15, 3, 3600),
    dataDir: resolve(env.DATA_DIR || ".data"),
    hostName: env.INSTANCE_HOST || hostname(),
    // A variable the operator set reaches the workers by itself (cluster.fork inherits the environment).
    workerMalloc: Object.fromEntries(Object.entries(MALLOC_TUNING).filter(([name]) => env[name] === undefined)),
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
      registerRate: read.int("REGISTER_RATE", 20, 1, 1_000_000),
      connectRate: read.int("CONNECT_RATE", 120, 1, 10_000_000),
      sendMaxInFlight: read.int("SEND_MAX_IN_FLIGHT", 5000, 1, 1_000_000),
      typingIntervalMs: read.int("TYPING_INTERVAL_MS", 1500, 0, 60_000),
    },
  };
  if (config.sessionAbsoluteSeconds < config.sessionIdleSeconds) {
    problems.push("SESSION_ABSOLUTE_TIMEOUT: must not be shorter than SESSION_IDLE_TIMEOUT");
  }
  if (config.limits.historyPage > config.limits.historyPageMax) {
    problems.push("HISTORY_PAGE: must not exceed HISTORY_PAGE_MAX");
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

function readTrustProxy(env: Env, problems: string[]): boolean | number | string {
  const raw = env.TRUST_PROXY;
  if (raw === undefined || raw === "" || raw === "false") return false;
  if (raw === "true") return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  if (/^[\w.:/, -]+$/.test(raw)) return raw;
  problems.push(`TRUST_PROXY: expected true, false, a hop count or addresses, got "${raw}"`);
  return false;
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
