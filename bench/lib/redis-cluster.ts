/**
 * B7's Redis Cluster: three masters of its own (no replicas, no persistence, started through the
 * shared launcher in src/lib/local-redis-cluster.ts), or the operator's given by
 * BENCH_REDIS_CLUSTER_NODES. Either way the registered users' snapshot is copied in, so the
 * cluster's sessions are the ones the load generators carry, and Redis CPU is read per master.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startLocalRedisCluster } from "../../src/lib/local-redis-cluster.js";
import { parseInfo } from "../../src/lib/redis-server.js";
import { redisCommand, startRedis } from "./redis-server.js";

const run = promisify(execFile);

export interface BenchCluster {
  /** How the report names it. */
  readonly description: string;
  /** Every master as host:port: REDIS_CLUSTER_NODES for the servers, one shard each. */
  readonly masters: string[];
  /** A master's used_cpu_sys + used_cpu_user (INFO cpu), µs. */
  cpuUs(master: string): Promise<number>;
  /** Stops a cluster of its own; leaves the operator's running. */
  stop(): Promise<void>;
}

/** The masters of BENCH_REDIS_CLUSTER_NODES=host:port,..., or none (B7 starts its own cluster). */
export function clusterNodesFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.BENCH_REDIS_CLUSTER_NODES ?? "")
    .split(",")
    .map((node) => node.trim())
    .filter(Boolean);
}

/** The operator's masters when given, else a new cluster of three masters; `rdb`'s keys copied in. */
export async function openBenchCluster(operatorMasters: readonly string[], rdb: string | undefined): Promise<BenchCluster> {
  const own =
    operatorMasters.length > 0
      ? undefined
      : // A long node timeout: a master starved of CPU for a moment on a busy machine must not be marked failed.
        await startLocalRedisCluster({ masters: 3, replicas: 0, nodeTimeoutMs: 15_000, args: ["--appendonly", "no"] });
  const masters = own ? own.masters.map((node) => `${node.host}:${node.port}`) : [...operatorMasters];
  const cluster: BenchCluster = {
    description: own ? `Cluster of ${masters.length} masters` : `Cluster of ${masters.length} masters (BENCH_REDIS_CLUSTER_NODES)`,
    masters,
    cpuUs: async (master) => {
      const { host, port } = addressOf(master);
      const info = parseInfo(await redisCommand(port, ["INFO", "cpu"], 5000, host));
      return (Number(info.used_cpu_sys) + Number(info.used_cpu_user)) * 1e6;
    },
    stop: async () => {
      await own?.stop();
    },
  };
  try {
    if (rdb) await importSnapshot(masters[0] as string, rdb);
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/**
 * Copies every key of an RDB snapshot into the cluster: a standalone redis-server restored from it
 * is the source of `redis-cli --cluster import`, which sends each key to the master of its slot.
 */
async function importSnapshot(entry: string, rdb: string): Promise<void> {
  const source = await startRedis({ rdb });
  try {
    await run(
      "redis-cli",
      ["--cluster", "import", entry, "--cluster-from", `127.0.0.1:${source.port}`, "--cluster-copy", "--cluster-replace"],
      { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
    );
  } finally {
    await source.stop();
  }
}

function addressOf(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(":");
  return { host: node.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(node.slice(at + 1)) };
}
