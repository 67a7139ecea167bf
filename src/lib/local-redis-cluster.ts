/**
 * Starts a Redis Cluster of local redis-server processes on free loopback ports, created by
 * `redis-cli --cluster create`: the test suites and the benchmarks start clusters through this one
 * module, each node through the shared launcher in redis-server.ts.
 */
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { commandOn, parseInfo, type RedisServerProcess, startRedisServer } from "./redis-server.js";

const run = promisify(execFile);

export interface LocalRedisClusterOptions {
  /** Default 3, the fewest `redis-cli --cluster create` accepts. */
  masters?: number;
  /** Replicas per master. Default 1. */
  replicas?: number;
  /**
   * cluster-node-timeout: a master silent this long is failed over. Default 2000 ms, short enough
   * for a test; production settings are in deploy/redis/cluster-node.conf.
   */
  nodeTimeoutMs?: number;
  /** More options for every node, e.g. `["--appendonly", "yes"]`. */
  args?: readonly string[];
}

export interface LocalRedisCluster {
  /** Every node in start order; the first `masters` start as masters, each later one as a replica. */
  nodes: RedisServerProcess[];
  /** The nodes that started as masters. */
  masters: RedisServerProcess[];
  /** Every node as host:port, comma-separated: REDIS_CLUSTER_NODES for the server. */
  nodeList: string;
  /** The port of the master serving `key` now, as a live node sees it. */
  masterOf(key: string): Promise<number>;
  /** Resolves once every live node reports cluster_state:ok and one view of the masters. */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A cluster of `masters` masters with `replicas` replicas each, in temporary folders. Resolves
 * once every node reports cluster_state:ok and every replica follows its master.
 */
export async function startLocalRedisCluster(options: LocalRedisClusterOptions = {}): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 1;
  const nodes: RedisServerProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const args = ["--cluster-enabled", "yes", "--cluster-node-timeout", String(options.nodeTimeoutMs ?? 2000), ...(options.args ?? [])];
  try {
    const started = await Promise.all(Array.from({ length: masters * (1 + replicas) }, () => startNode(args)));
    nodes.push(...started);
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", String(replicas), "--cluster-yes"], {
      timeout: 60_000,
    });
    const cluster: LocalRedisCluster = {
      nodes,
      masters: nodes.slice(0, masters),
      nodeList: addresses.join(","),
      async masterOf(key) {
        const slot = Number(await firstAnswer(nodes, ["CLUSTER", "KEYSLOT", key]));
        const shards = (await firstAnswer(nodes, ["CLUSTER", "SLOTS"])) as [number, number, [string, number, ...unknown[]]][];
        const shard = shards.find(([from, to]) => slot >= from && slot <= to);
        if (!shard) throw new Error(`no master serves slot ${slot}`);
        return Number(shard[2][1]);
      },
      async healthy(timeoutMs = 30_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          if (await allHealthy(nodes)) return;
          if (Date.now() > deadline) throw new Error("the redis cluster did not become healthy in time");
          await sleep(200);
        }
      },
      stop,
    };
    await cluster.healthy();
    await replicasInSync(nodes, masters * replicas);
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits until `expected` replicas have loaded their master's data and follow it (WAIT can count them). */
async function replicasInSync(nodes: RedisServerProcess[], expected: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A node too busy to answer in time (a loaded machine) counts as not in sync yet.
    const roles = await Promise.all(
      nodes.map((node) =>
        commandOn(node.port, ["INFO", "replication"]).then(
          (info) => parseInfo(String(info)),
          () => ({}) as Record<string, string>,
        ),
      ),
    );
    const following = roles.filter((role) => role.role === "slave");
    if (following.length === expected && following.every((role) => role.master_link_status === "up")) return;
    if (Date.now() > deadline) throw new Error("the redis cluster's replicas did not sync in time");
    await sleep(200);
  }
}

/**
 * A node on a free port. Another process on this machine may take the port between its choice
 * and the bind (several start at once here): then the node exits, and it is started on another.
 */
async function startNode(args: readonly string[], attempts = 3): Promise<RedisServerProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisServer({ args });
    } catch (err) {
      if (attempt >= attempts) throw err;
    }
  }
}

/** The reply of the first node that answers. */
async function firstAnswer(nodes: RedisServerProcess[], args: string[]): Promise<unknown> {
  let last: unknown;
  for (const node of nodes) {
    try {
      return await commandOn(node.port, args);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** Every node that answers says cluster_state:ok, and they agree on one set of masters with slots. */
async function allHealthy(nodes: RedisServerProcess[]): Promise<boolean> {
  const views = await Promise.all(
    nodes.map(async (node) => {
      try {
        const info = parseInfo(String(await commandOn(node.port, ["CLUSTER", "INFO"])));
        if (info.cluster_state !== "ok") return "not ok";
        const shards = (await commandOn(node.port, ["CLUSTER", "SLOTS"])) as [number, number, [string, number]][];
        return shards
          .map(([from, , master]) => `${from}@${master[1]}`)
          .sort()
          .join(",");
      } catch {
        return undefined; // down: not part of the view
      }
    }),
  );
  const answered = views.filter((view) => view !== undefined);
  return answered.length > 0 && answered.every((view) => view === answered[0] && view !== "not ok");
}
