/**
 * B7 hosts: H hosts of one worker each (H = 1, 2, 4) on a Redis Cluster of 3 masters, rooms of 2, a fixed
 * offered rate well below saturation, load on some hosts only. Either every room has both members
 * on one loaded host ("local": the other hosts have no client at all), or each room's members are
 * on two different hosts ("spread": every host loaded). Per shape it reports the CPU each host
 * spends per message of the whole cluster and per message it serves, and Redis CPU per message per
 * shard: the figures docs/performance.md's capacity model is built from. Each room has a name of
 * its own, so the rooms' keys and channels hash to slots all over the cluster.
 *
 * An idle host's figure is its CPU during the load minus its CPU in an equal quiet window before
 * it (timers and heartbeats cost the same with or without traffic), divided by the messages of the
 * cluster; the raw figure is kept beside it. A shard's figures are taken above its quiet CPU the
 * same way: a master's cron and cluster bus cost as much without messages, and would otherwise
 * even out the shards' parts.
 */
import { type Account, logInAll, userName } from "../lib/accounts.js";
import { cpuBetween, type TreeSample } from "../lib/proc.js";
import { type BenchCluster, clusterNodesFromEnv, openBenchCluster } from "../lib/redis-cluster.js";
import { type RunningTarget, startTarget } from "../lib/target.js";
import { nowUs, sleepUntil } from "../lib/time.js";
import { AgentPool, sum } from "../loadgen/pool.js";
import type { Slot } from "../loadgen/protocol.js";
import {
  type BenchOptions,
  bySize,
  drain,
  type Golden,
  mergeBuckets,
  population,
  REDIS_PREFIX,
  round,
  THROUGHPUT_CONNECT,
} from "./harness.js";

export type B7Layout = "local" | "spread";

export interface B7Shape {
  hosts: number;
  /** Hosts 1..loaded have clients; the rest have none. */
  loaded: number;
  layout: B7Layout;
}

export interface B7Host {
  host: number;
  sockets: number;
  /** CPU of the host (primary and worker) during the load, cores. */
  cores: number;
  /** Its CPU in the quiet window before the load, cores. */
  quietCores: number;
  /** (CPU under load − quiet CPU) ÷ messages of the whole cluster, µs. */
  cpuUsPerClusterMsg: number;
  /** CPU under load ÷ the messages it serves (sent from or delivered to its sockets), µs; 0 without clients. */
  cpuUsPerServedMsg: number;
  /**
   * Live messages its workers received (chat_live_messages_received_total) ÷ messages of the
   * cluster. Exact for a host without clients; a loaded host answers /metrics behind its backlog,
   * so its figure spans a slightly later window.
   */
  liveReceivedPerClusterMsg: number;
}

export interface B7Shard {
  /** The master's host:port. */
  shard: string;
  /** Its CPU during the load, cores. */
  cores: number;
  /** Its CPU in the quiet window before the load, cores. */
  quietCores: number;
  /** (CPU under load − quiet CPU) ÷ messages of the whole cluster, µs. */
  cpuUsPerMsg: number;
  /** This shard's part of all shards' Redis CPU above their quiet CPU. */
  share: number;
}

export interface B7ShapeResult extends B7Shape {
  offered: number;
  sentPerSec: number;
  deliveredRatio: number;
  p99Ms: number;
  perHost: B7Host[];
  redis: B7Shard[];
  /** The highest figure of a host without clients, µs per cluster message (null: every host was loaded). */
  idleCpuUsPerClusterMsg: number | null;
  /** The most live messages a host without clients received per message of the cluster (null: none idle). */
  idleLiveReceivedPerClusterMsg: number | null;
  /** Mean over the loaded hosts, µs per message served. */
  servingCpuUsPerMsg: number;
  /** Σ shards' Redis CPU above their quiet CPU ÷ messages, µs. */
  redisCpuUsPerMsg: number;
}

export interface B7Result {
  target: "ours";
  topology: string;
  shapes: B7ShapeResult[];
}

const SHAPES: Record<"full" | "smoke", B7Shape[]> = {
  full: [
    { hosts: 1, loaded: 1, layout: "local" },
    { hosts: 2, loaded: 1, layout: "local" },
    { hosts: 4, loaded: 2, layout: "local" },
    { hosts: 2, loaded: 2, layout: "spread" },
    { hosts: 4, loaded: 4, layout: "spread" },
  ],
  smoke: [
    { hosts: 2, loaded: 1, layout: "local" },
    { hosts: 2, loaded: 2, layout: "spread" },
  ],
};

interface Host {
  target: RunningTarget;
  pool: AgentPool | undefined;
  sockets: number;
}

/**
 * Every shape on a new Redis Cluster of 3 masters holding the registered users, or on the
 * operator's when BENCH_REDIS_CLUSTER_NODES names its masters.
 */
export async function runB7(
  golden: Golden | undefined,
  options: BenchOptions,
  operatorMasters: readonly string[] = clusterNodesFromEnv(),
): Promise<B7Result> {
  const shapes = options.size === "smoke" ? SHAPES.smoke : SHAPES.full;
  const results: B7ShapeResult[] = [];
  let topology = "";
  for (const shape of shapes) {
    const cluster = await openBenchCluster(operatorMasters, golden?.rdb);
    topology = cluster.description;
    try {
      results.push(await runShape(shape, golden, options, cluster));
    } finally {
      await cluster.stop();
    }
  }
  return { target: "ours", topology, shapes: results };
}

async function runShape(shape: B7Shape, golden: Golden | undefined, options: BenchOptions, cluster: BenchCluster): Promise<B7ShapeResult> {
  const label = `B7 ${shape.hosts} host(s), ${shape.loaded} loaded, ${shape.layout}`;
  const hosts: Host[] = [];
  try {
    for (let h = 0; h < shape.hosts; h++) {
      const target = await startTarget({
        kind: "ours",
        workers: 1,
        redisPrefix: REDIS_PREFIX,
        env: { REDIS_CLUSTER_NODES: cluster.masters.join(","), INSTANCE_HOST: `host${h + 1}` },
      });
      hosts.push({ target, pool: undefined, sockets: 0 });
    }
    return await measure(shape, hosts, cluster, golden, options, label);
  } finally {
    const warnings = hosts.flatMap((h) => h.target.warnings());
    if (warnings.length > 0)
      options.log(`  ${label}: servers logged ${warnings.length} warning(s); first: ${warnings.slice(0, 2).join(" | ").slice(0, 800)}`);
    for (const host of hosts) await host.pool?.quiesce();
    for (const host of hosts) await host.target.stop();
    for (const host of hosts) await host.pool?.close();
  }
}

/** Users of the loaded hosts: `perHost` each, in rooms of 2 laid out as the shape says. */
function layOut(shape: B7Shape, perHost: number): { hostOf: number[]; roomOf: string[] } {
  const users = perHost * shape.loaded;
  const hostOf: number[] = [];
  const roomOf: string[] = [];
  for (let u = 0; u < users; u++) {
    const pair = u >> 1;
    if (shape.layout === "local") {
      // Both members of a pair on one host.
      hostOf.push(Math.floor(u / perHost));
    } else {
      // The two members of a pair on two different hosts.
      hostOf.push((pair + (u & 1)) % shape.loaded);
    }
    roomOf.push(`#b7-${shape.layout}-${pair}`);
  }
  return { hostOf, roomOf };
}

async function accountsFor(golden: Golden | undefined, count: number, firstHost: Host): Promise<Account[]> {
  if (golden) {
    if (golden.accounts.length < count) throw new Error(`B7: only ${golden.accounts.length} registered users, ${count} needed`);
    return golden.accounts.slice(0, count);
  }
  return logInAll(
    firstHost.target.url,
    Array.from({ length: count }, (_, i) => userName(i)),
    { concurrency: 16 },
  );
}

async function measure(
  shape: B7Shape,
  hosts: Host[],
  cluster: BenchCluster,
  golden: Golden | undefined,
  options: BenchOptions,
  label: string,
): Promise<B7ShapeResult> {
  const available = golden?.accounts.length ?? bySize(options, { full: 1000, quick: 200, smoke: 20 });
  const perHost = Math.floor(available / 4 / 2) * 2; // four loaded hosts at most: every shape gets the same sockets per host
  const { hostOf, roomOf } = layOut(shape, perHost);
  const accounts = await accountsFor(golden, hostOf.length, hosts[0] as Host);
  const slotsOf: Slot[][] = hosts.map(() => []);
  const fanout: Record<string, number> = {};
  for (const room of roomOf) fanout[room] = (fanout[room] ?? 0) + 1;

  for (let h = 0; h < shape.loaded; h++) {
    const host = hosts[h] as Host;
    const mine = accounts.map((_, u) => u).filter((u) => hostOf[u] === h);
    const pop = population(
      mine.map((u) => accounts[u] as Account),
      1,
      (i) => [roomOf[mine[i] as number] as string],
    );
    pop.fanout = fanout;
    host.pool = AgentPool.start({ agents: 1 });
    host.sockets = pop.clients.length;
    const wsUrl = `${host.target.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
    const connected = await host.pool.connect(wsUrl, pop.clients, THROUGHPUT_CONNECT);
    if (connected.connected !== pop.clients.length || Object.keys(connected.joinFailures).length > 0) {
      throw new Error(
        `${label}: host ${h + 1} ${connected.connected}/${pop.clients.length} connected ${JSON.stringify(connected.failures)}`,
      );
    }
    slotsOf[h] = pop.clients.map((_, client) => ({ client, room: roomOf[mine[client] as number] as string }));
  }

  const rate = bySize(options, { full: 4000, quick: 2000, smoke: 100 });
  const warmMs = bySize(options, { full: 2000, quick: 1500, smoke: 500 });
  const measureMs = bySize(options, { full: 8000, quick: 4000, smoke: 1000 });
  const sample = async () => ({
    atUs: nowUs(),
    trees: hosts.map((h) => h.target.sample()),
    shards: await Promise.all(cluster.masters.map((master) => cluster.cpuUs(master))),
    agents: (await Promise.all(hosts.map((h) => h.pool?.snapshots() ?? []))).flat(),
  });
  const liveReceived = () => Promise.all(hosts.map((h) => liveReceivedOf(h.target.url)));

  // Each window's ends also read the hosts' counters, alongside (a sample must not wait for a
  // loaded host's backlog): the quiet window pays for those requests as the loaded one does.
  const edge = async () => {
    const [at, live] = await Promise.all([sample(), liveReceived()]);
    return { ...at, live };
  };
  // The quiet window: every socket connected, nothing sent.
  const quietStart = await edge();
  await sleepUntil(quietStart.atUs + measureMs * 1000);
  const quietEnd = await edge();

  // Each loaded host's share of the rate follows its share of the senders.
  const totalSlots = sum(slotsOf.map((s) => s.length));
  const starts = await Promise.all(
    hosts.map((host, h) =>
      host.pool?.load(
        {
          bucketMs: 500,
          segments: [{ durationMs: warmMs + measureMs, rate: (rate * (slotsOf[h]?.length ?? 0)) / totalSlots }],
          fanout,
          textBytes: 100,
        },
        slotsOf[h] ?? [],
      ),
    ),
  );
  const t0 = Math.max(...starts.map((s) => s ?? 0));
  await sleepUntil(t0 + warmMs * 1000);
  const a = await edge();
  await sleepUntil(t0 + (warmMs + measureMs) * 1000);
  const b = await edge();
  for (const host of hosts) if (host.pool) await drain(host.pool, 3000);
  const reports = (await Promise.all(hosts.map((h) => h.pool?.results() ?? []))).flat();
  const buckets = mergeBuckets(reports, Math.ceil(warmMs / 500), Math.floor((warmMs + measureMs) / 500));

  const seconds = (b.atUs - a.atUs) / 1e6;
  const quietSeconds = (quietEnd.atUs - quietStart.atUs) / 1e6;
  const sent = sum(b.agents.map((s) => s.sent)) - sum(a.agents.map((s) => s.sent));
  const cpu = (x: TreeSample[], y: TreeSample[], h: number) => cpuBetween(x[h] as TreeSample, y[h] as TreeSample);
  const hostFigures: B7Host[] = hosts.map((host, h) => {
    const busyUs = cpu(a.trees, b.trees, h);
    const quietUs = (cpu(quietStart.trees, quietEnd.trees, h) * seconds) / quietSeconds;
    // Each of its pairs has one member here (spread) or both (local): one delivery, or two, per message served.
    const delivered = host.pool ? deliveredBetween(a.agents, b.agents, h, hosts) : 0;
    const served = shape.layout === "local" ? delivered / 2 : delivered;
    return {
      host: h + 1,
      sockets: host.sockets,
      cores: round(busyUs / 1e6 / seconds, 3),
      quietCores: round(quietUs / 1e6 / seconds, 3),
      cpuUsPerClusterMsg: round(sent > 0 ? Math.max(0, busyUs - quietUs) / sent : 0, 3),
      cpuUsPerServedMsg: round(served > 0 ? busyUs / served : 0, 2),
      liveReceivedPerClusterMsg: round(sent > 0 ? ((b.live[h] ?? 0) - (a.live[h] ?? 0)) / sent : 0, 4),
    };
  });
  const shardUs = cluster.masters.map((_, s) => (b.shards[s] ?? 0) - (a.shards[s] ?? 0));
  const shardQuietUs = cluster.masters.map((_, s) => (((quietEnd.shards[s] ?? 0) - (quietStart.shards[s] ?? 0)) * seconds) / quietSeconds);
  const shardLoadUs = shardUs.map((us, s) => Math.max(0, us - (shardQuietUs[s] ?? 0)));
  const redisUs = sum(shardLoadUs);
  const idle = hostFigures.filter((h) => h.sockets === 0);
  const loaded = hostFigures.filter((h) => h.sockets > 0);
  const result: B7ShapeResult = {
    ...shape,
    offered: rate,
    sentPerSec: round(sent / seconds, 0),
    deliveredRatio: buckets.expected > 0 ? round(buckets.delivered / buckets.expected, 5) : 0,
    p99Ms: buckets.latency.p99Ms,
    perHost: hostFigures,
    redis: cluster.masters.map((master, s) => ({
      shard: master,
      cores: round((shardUs[s] ?? 0) / 1e6 / seconds, 3),
      quietCores: round((shardQuietUs[s] ?? 0) / 1e6 / seconds, 3),
      cpuUsPerMsg: round(sent > 0 ? (shardLoadUs[s] ?? 0) / sent : 0, 2),
      share: round(redisUs > 0 ? (shardLoadUs[s] ?? 0) / redisUs : 0, 3),
    })),
    idleCpuUsPerClusterMsg: idle.length > 0 ? Math.max(...idle.map((h) => h.cpuUsPerClusterMsg)) : null,
    idleLiveReceivedPerClusterMsg: idle.length > 0 ? Math.max(...idle.map((h) => h.liveReceivedPerClusterMsg)) : null,
    servingCpuUsPerMsg: round(sum(loaded.map((h) => h.cpuUsPerServedMsg)) / Math.max(1, loaded.length), 2),
    redisCpuUsPerMsg: round(sent > 0 ? redisUs / sent : 0, 2),
  };
  options.log(
    `  ${label}: ${result.sentPerSec} msg/s, delivered ${round(result.deliveredRatio * 100, 2)} %, p99 ${result.p99Ms} ms; ` +
      `serving ${result.servingCpuUsPerMsg} µs/msg, idle host ${result.idleCpuUsPerClusterMsg ?? "–"} µs/cluster msg, Redis ${result.redisCpuUsPerMsg} µs/msg ` +
      `(${result.redis.map((shard) => `${shard.cpuUsPerMsg}, part ${shard.share}, quiet ${shard.quietCores} cores`).join("; ")}); ` +
      `hosts ${hostFigures.map((h) => `${h.host}: ${h.cores} cores (quiet ${h.quietCores})${h.sockets === 0 ? `, ${h.liveReceivedPerClusterMsg} live msgs received per cluster msg` : ""}`).join(", ")}`,
  );
  return result;
}

/** Deliveries to the sockets of host `h` between two samples (each pool's agents in host order). */
function deliveredBetween(a: { delivered: number }[], b: { delivered: number }[], h: number, hosts: Host[]): number {
  // Pools have one agent each and only loaded hosts have one: the agent index is the loaded host's index.
  const index = hosts.slice(0, h).filter((x) => x.pool).length;
  return (b[index]?.delivered ?? 0) - (a[index]?.delivered ?? 0);
}

/** Σ chat_live_messages_received_total over the host's workers, from its /metrics (loopback is allowed). */
async function liveReceivedOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^chat_live_messages_received_total(?:\{[^}]*\})? (\d+(?:\.\d+)?)$/gm)) total += Number(match[1]);
  return total;
}
