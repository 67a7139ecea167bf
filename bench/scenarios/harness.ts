/**
 * What every scenario needs: one "run" (a fresh Redis, a server under test, load-generator
 * processes), a population of logged-in sockets, and measurement windows that read server CPU
 * and RSS from /proc, Redis CPU from INFO, and the agents' own CPU.
 */
import { type Account, logInAll, userName } from "../lib/accounts.js";
import { type LatencySummary, merge, summarize } from "../lib/histogram.js";
import { cpuBetween, systemBusyUs, type TreeSample } from "../lib/proc.js";
import { type RedisServer, startRedis } from "../lib/redis-server.js";
import { type RunningTarget, startTarget, type TargetKind } from "../lib/target.js";
import { nowUs, sleep } from "../lib/time.js";
import { AgentPool, sum } from "../loadgen/pool.js";
import type { ClientSpec, ConnectOptions, ConnectReport, LoadReport, Snapshot } from "../loadgen/protocol.js";

/**
 * How big a run is: the numbers; a quick look (small numbers, about 4 min, not comparable);
 * or the smoke run of `npm test` (toy numbers, seconds per scenario), so the scenarios cannot rot.
 */
export type Size = "full" | "quick" | "smoke";

export interface BenchOptions {
  size: Size;
  /** Pin single-worker servers to CPU 0 and the load generators to CPU 1. */
  pin: boolean;
  log: (line: string) => void;
}

/** Users registered once per bench run (scrypt is slow) and restored into every run's Redis. */
export interface Golden {
  /** RDB snapshot holding the accounts and their sessions. */
  rdb: string;
  accounts: Account[];
}

export interface RunSpec {
  kind: TargetKind;
  workers: number;
  /** Pin the server to CPU 0 and the agents to CPU 1 (only meaningful with one worker). */
  pin: boolean;
  agents: number;
  env?: Record<string, string>;
}

export const REDIS_PREFIX = "bench:";

/** The initial connect of 10k sockets is set-up; on a server that admits them slowly it must still end. */
export const CONNECT_DEADLINE_MS = 180_000;

/** How throughput scenarios connect: no id tracking, resends, rejoins or reconnects to measure. */
export const THROUGHPUT_CONNECT = {
  trackIds: false,
  resend: false,
  rejoin: false,
  reconnect: false,
  deadlineMs: CONNECT_DEADLINE_MS,
} as const;

let addressBase = 0;

/** One server under test with its own Redis and load generators; close() ends them all, by pid. */
export class Run {
  private constructor(
    readonly spec: RunSpec,
    readonly redis: RedisServer,
    readonly target: RunningTarget,
    readonly pool: AgentPool,
    private readonly golden: Golden | undefined,
    private readonly ownsRedis: boolean,
  ) {}

  /**
   * Starts a server (and, unless one is given, a Redis restored from the golden snapshot) and the
   * load generators. Without `golden`, accounts() registers users through the API instead.
   */
  static async open(spec: RunSpec, golden: Golden | undefined, shared: { redis?: RedisServer } = {}): Promise<Run> {
    const redis = shared.redis ?? (await startRedis(spec.kind === "ours" && golden ? { rdb: golden.rdb } : {}));
    const ownsRedis = shared.redis === undefined;
    let target: RunningTarget;
    try {
      target = await startTarget({
        kind: spec.kind,
        workers: spec.workers,
        redisUrl: redis.url,
        redisPrefix: REDIS_PREFIX,
        cpus: spec.pin ? "0" : undefined,
        env: spec.env,
      });
    } catch (err) {
      if (ownsRedis) await redis.stop();
      throw err;
    }
    const pool = AgentPool.start({ agents: spec.agents, cpus: spec.pin ? "1" : undefined });
    return new Run(spec, redis, target, pool, spec.kind === "ours" ? golden : undefined, ownsRedis);
  }

  get wsUrl(): string {
    return `${this.target.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
  }

  /**
   * The first `count` users with a session cookie: restored from the golden snapshot when there is
   * one (the project: scrypt makes registering slow), else logged in through the API now.
   */
  async accounts(count: number): Promise<Account[]> {
    if (this.golden) {
      const accounts = this.golden.accounts;
      if (accounts.length < count) throw new Error(`only ${accounts.length} registered users, ${count} needed`);
      return accounts.slice(0, count);
    }
    return logInAll(
      this.target.url,
      Array.from({ length: count }, (_, i) => userName(i)),
      { concurrency: 16, localAddress: (i) => `127.0.0.${2 + (i % 200)}` },
    );
  }

  async connect(population: Population, flags: Omit<ConnectOptions, "wsUrl" | "clients" | "connectPerSec">): Promise<ConnectReport> {
    return this.pool.connect(this.wsUrl, population.clients, flags);
  }

  async sample(): Promise<Sample> {
    const [agents, redisCpuUs] = await Promise.all([this.pool.snapshots(), this.redis.cpuUs()]);
    return { atUs: nowUs(), server: this.target.sample(), redisCpuUs, agents, systemBusyUs: systemBusyUs() };
  }

  /** Agents stop first (no reconnect storm into a dying server), then the server, then Redis. */
  async close(): Promise<void> {
    await this.pool.quiesce();
    await this.target.stop();
    await this.pool.close();
    if (this.ownsRedis) await this.redis.stop();
  }
}

/**
 * Opens a run, hands it to `body`, and always closes it. The server's warnings (pino level ≥ 40)
 * are passed to `log`: a server that logs errors under load is part of the result.
 */
export async function withRun<T>(
  spec: RunSpec,
  golden: Golden | undefined,
  log: (line: string) => void,
  body: (run: Run) => Promise<T>,
): Promise<T> {
  const run = await Run.open(spec, golden);
  try {
    return await body(run);
  } catch (err) {
    const tail = run.target.logTail().slice(-15).join("\n");
    throw new Error(`${(err as Error).message}\n--- ${spec.kind} server log tail ---\n${tail}`, { cause: err });
  } finally {
    const warnings = run.target.warnings();
    if (warnings.length > 0) {
      log(
        `  ${spec.kind} server logged ${warnings.length}${warnings.length >= 200 ? "+" : ""} warning(s)/error(s); first: ${warnings.slice(0, 3).join(" | ").slice(0, 1200)}`,
      );
    }
    await run.close();
  }
}

export interface Population {
  clients: ClientSpec[];
  /** Sockets reached by a message to each room (every socket of every member user). */
  fanout: Record<string, number>;
  /** Global client indexes of each user's sockets. */
  socketsOf: number[][];
}

/**
 * `users` × `socketsPerUser` sockets. Memberships are per user (the project joins all of a user's
 * sockets), so every socket of a user joins all the user's rooms, which makes the reference
 * deliver exactly what the project delivers.
 */
export function population(accounts: readonly Account[], socketsPerUser: number, roomsOf: (user: number) => string[]): Population {
  // Rotating 127.0.0.x blocks: TIME_WAIT left by one run does not eat the next run's ports.
  const base = addressBase;
  const perAddress = 1000;
  addressBase = (addressBase + Math.ceil((accounts.length * socketsPerUser) / perAddress)) % 250;
  const clients: ClientSpec[] = [];
  const fanout: Record<string, number> = {};
  const socketsOf: number[][] = [];
  accounts.forEach((account, u) => {
    const rooms = roomsOf(u);
    for (const room of rooms) fanout[room] = (fanout[room] ?? 0) + socketsPerUser;
    const mine: number[] = [];
    for (let s = 0; s < socketsPerUser; s++) {
      const index = clients.length;
      mine.push(index);
      clients.push({
        user: account.user,
        cookie: account.cookie,
        rooms,
        localAddress: `127.0.0.${2 + ((base + Math.floor(index / perAddress)) % 250)}`,
      });
    }
    socketsOf.push(mine);
  });
  return { clients, fanout, socketsOf };
}

export interface Sample {
  atUs: number;
  server: TreeSample;
  redisCpuUs: number;
  agents: Snapshot[];
  systemBusyUs: number;
}

export interface Window {
  seconds: number;
  serverCpuUs: number;
  /** Server CPU in cores (1.0 = one core busy). */
  serverCores: number;
  redisCores: number;
  /** The busiest load-generator process, in cores: above 0.9 the client limits the result. */
  clientCores: number;
  clientBound: boolean;
  /**
   * Busy CPU not used by the server, Redis or the load generators, in cores: kernel work not
   * charged to a process (loopback softirq) and other tenants. High values mark a noisy window.
   */
  otherCores: number;
  /** Busy CPU of the whole machine, cores: the server, Redis, the load generators and the rest. */
  boxCores: number;
  delivered: number;
  sent: number;
  acked: number;
  serverRssBytes: number;
}

export function between(a: Sample, b: Sample): Window {
  const seconds = (b.atUs - a.atUs) / 1e6;
  const serverCpuUs = cpuBetween(a.server, b.server);
  const agentCpu = b.agents.map((s, i) => s.cpuUs - (a.agents[i]?.cpuUs ?? 0));
  const clientCores = Math.max(0, ...agentCpu.map((us) => us / 1e6 / seconds));
  const redisCpuUs = b.redisCpuUs - a.redisCpuUs;
  const busyUs = b.systemBusyUs - a.systemBusyUs;
  const otherUs = busyUs - serverCpuUs - redisCpuUs - sum(agentCpu);
  return {
    seconds,
    serverCpuUs,
    serverCores: serverCpuUs / 1e6 / seconds,
    redisCores: redisCpuUs / 1e6 / seconds,
    clientCores,
    clientBound: clientCores > 0.9,
    otherCores: Math.max(0, otherUs / 1e6 / seconds),
    boxCores: busyUs / 1e6 / seconds,
    delivered: sum(b.agents.map((s) => s.delivered)) - sum(a.agents.map((s) => s.delivered)),
    sent: sum(b.agents.map((s) => s.sent)) - sum(a.agents.map((s) => s.sent)),
    acked: sum(b.agents.map((s) => s.acked)) - sum(a.agents.map((s) => s.acked)),
    serverRssBytes: b.server.rssBytes,
  };
}

/**
 * What the issue asks every scenario to report about one window of it: the CPU of the server, of
 * Redis and of the busiest load generator (client-bound above 90 % of a core), and the server's
 * RSS. B4's windows carry no messages; the others' add MessageFigures.
 */
export interface Figures {
  seconds: number;
  serverCores: number;
  redisCores: number;
  clientCores: number;
  clientBound: boolean;
  serverRssMB: number;
}

/** Figures of a window that carries messages: rates, delivery, latency and CPU per delivery. */
export interface MessageFigures extends Figures {
  offeredPerSec: number;
  sentPerSec: number;
  deliveredPerSec: number;
  /** Of the messages sent in the window, deliveries ÷ expected (replayed duplicates count again). */
  deliveredRatio: number;
  latency: LatencySummary;
  serverCpuUsPerDelivery: number;
}

export function figuresOf(w: Window): Figures {
  return {
    seconds: round(w.seconds, 1),
    serverCores: round(w.serverCores, 3),
    redisCores: round(w.redisCores, 3),
    clientCores: round(w.clientCores, 3),
    clientBound: w.clientBound,
    serverRssMB: round(w.serverRssBytes / MB, 1),
  };
}

/** `sent` holds the buckets of the messages sent in the window `w`. */
export function messageFiguresOf(w: Window, offeredPerSec: number, sent: BucketFigures): MessageFigures {
  return {
    ...figuresOf(w),
    offeredPerSec: round(offeredPerSec, 0),
    sentPerSec: round(w.sent / w.seconds, 0),
    deliveredPerSec: round(w.delivered / w.seconds, 0),
    deliveredRatio: sent.expected > 0 ? round(sent.delivered / sent.expected, 5) : 0,
    latency: sent.latency,
    serverCpuUsPerDelivery: round(w.delivered > 0 ? w.serverCpuUs / w.delivered : 0, 3),
  };
}

export interface BucketFigures {
  sent: number;
  expected: number;
  acked: number;
  ackFailed: number;
  delivered: number;
  latency: LatencySummary;
  ackLatency: LatencySummary;
}

/** Merges buckets [from, to) of every agent: exact percentiles over all processes. */
export function mergeBuckets(reports: readonly LoadReport[], from: number, to: number): BucketFigures {
  const picked = reports.flatMap((r) => r.buckets.filter((b) => b.bucket >= from && b.bucket < to));
  const latency = merge(picked.map((b) => b.latency));
  const ackLatency = merge(picked.map((b) => b.ackLatency));
  const figures: BucketFigures = {
    sent: sum(picked.map((b) => b.sent)),
    expected: sum(picked.map((b) => b.expected)),
    acked: sum(picked.map((b) => b.acked)),
    ackFailed: sum(picked.map((b) => b.ackFailed)),
    delivered: sum(picked.map((b) => b.delivered)),
    latency: summarize(latency),
    ackLatency: summarize(ackLatency),
  };
  latency.destroy();
  ackLatency.destroy();
  return figures;
}

/** Waits until deliveries stop arriving (the backlog of a saturated step drained), at most `timeoutMs`. */
export async function drain(pool: AgentPool, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let stableFor = 0;
  while (Date.now() < deadline) {
    const snaps = await pool.snapshots();
    const delivered = sum(snaps.map((s) => s.delivered));
    const outstanding = sum(snaps.map((s) => s.sent - s.acked));
    stableFor = delivered === last ? stableFor + 1 : 0;
    if (stableFor >= 3 && outstanding <= 0) return;
    if (stableFor >= 6) return; // acks that failed count as outstanding forever
    last = delivered;
    await sleep(100);
  }
}

/**
 * Waits (at most `maxWaitMs`) until the box is nearly idle before a run starts: nothing of the
 * harness runs between runs, so busy CPU here is another tenant, which would skew the run.
 * Returns the busy cores seen last.
 */
export async function waitQuiet(log: (line: string) => void, maxWaitMs = 60_000, thresholdCores = 0.25): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let warned = false;
  for (;;) {
    const a = systemBusyUs();
    await sleep(1000);
    const busy = (systemBusyUs() - a) / 1e6;
    if (busy < thresholdCores || Date.now() >= deadline) {
      if (warned || busy >= thresholdCores)
        log(`  box ${busy >= thresholdCores ? "still" : "now"} ${Math.round(busy * 100)} % busy before the run`);
      return round(busy, 2);
    }
    if (!warned) log(`  box ${Math.round(busy * 100)} % busy with other work; waiting up to ${maxWaitMs / 1000} s for it to settle`);
    warned = true;
  }
}

/** The value for this run's size. */
export function bySize<T>(options: BenchOptions, values: Record<Size, T>): T {
  return values[options.size];
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const MB = 1024 * 1024;
