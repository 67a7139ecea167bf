import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { type RedisServerProcess, startRedisServer } from "../../src/lib/redis-server.js";
import { SYNC_AT_ONCE } from "./redis.js";
import { commandOn } from "./redis-command.js";

const run = promisify(execFile);

export interface TestRedisCluster {
  /** Every node in start order; the first three start as masters, each later one as a replica. */
  nodes: RedisServerProcess[];
  /** REDIS_CLUSTER_NODES for the server. */
  nodeList: string;
  /** A node's reply to a command (CLUSTER KEYSLOT, INFO, ...). */
  command(port: number, args: string[]): Promise<unknown>;
  /** The port of the master serving `key` now, as a live node sees it. */
  masterOf(key: string): Promise<number>;
  /** Resolves once every live node reports cluster_state:ok and one view of the masters. */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Short enough for a test: a master that stops answering is failed over after about this long.
 * Production settings are in deploy/redis/cluster-node.conf.
 */
const NODE_TIMEOUT_MS = 2000;

/** INFO-style "field:value" lines as an object. */
function fields(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\r\n")
      .filter((line) => line.includes(":"))
      .map((line) => line.split(":", 2) as [string, string]),
  );
}

/**
 * A Redis Cluster of `masters` masters with one replica each (6 redis-server processes by
 * default), with append-only files, on free loopback ports in their own temporary folders,
 * created by `redis-cli --cluster create`. Resolves once every node reports cluster_state:ok.
 */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const nodes: RedisServerProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const args = ["--cluster-enabled", "yes", "--cluster-node-timeout", String(NODE_TIMEOUT_MS), "--appendonly", "yes", ...SYNC_AT_ONCE];
  try {
    const started = await Promise.all(Array.from({ length: masters * 2 }, () => startNode(args)));
    nodes.push(...started);
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "1", "--cluster-yes"], { timeout: 60_000 });
    const cluster: TestRedisCluster = {
      nodes,
      nodeList: addresses.join(","),
      command: commandOn,
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
    await replicasInSync(nodes);
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits until every replica has loaded its master's data and follows it (WAIT can count it). */
async function replicasInSync(nodes: RedisServerProcess[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A node too busy to answer in time (a loaded machine) counts as not in sync yet.
    const roles = await Promise.all(
      nodes.map((node) =>
        commandOn(node.port, ["INFO", "replication"]).then(
          (info) => fields(String(info)),
          () => ({}) as Record<string, string>,
        ),
      ),
    );
    const replicas = roles.filter((role) => role.role === "slave");
    if (replicas.length * 2 === nodes.length && replicas.every((role) => role.master_link_status === "up")) return;
    if (Date.now() > deadline) throw new Error("the redis cluster's replicas did not sync in time");
    await sleep(200);
  }
}

/**
 * A node on a free port. Another process on this machine may take the port between its choice
 * and the bind (six start at once here): then the node exits, and it is started on another.
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
        const info = fields(String(await commandOn(node.port, ["CLUSTER", "INFO"])));
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
