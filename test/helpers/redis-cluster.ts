import { type LocalRedisCluster, startLocalRedisCluster } from "../../src/lib/local-redis-cluster.js";
import { SYNC_AT_ONCE } from "./redis.js";
import { commandOn } from "./redis-command.js";

export interface TestRedisCluster extends LocalRedisCluster {
  /** A node's reply to a command (CLUSTER KEYSLOT, INFO, ...). */
  command(port: number, args: string[]): Promise<unknown>;
}

/**
 * A Redis Cluster of `masters` masters with one replica each (6 redis-server processes by
 * default), with append-only files, failing a silent master over after 2 s; replicas sync at once.
 */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const cluster = await startLocalRedisCluster({
    masters,
    replicas: 1,
    nodeTimeoutMs: 2000,
    args: ["--appendonly", "yes", ...SYNC_AT_ONCE],
  });
  return { ...cluster, command: commandOn };
}
