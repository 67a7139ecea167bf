import { type RedisServerProcess, startRedisServer } from "../../src/lib/redis-server.js";
import { commandOn } from "./redis-command.js";

export { freePort } from "../../src/lib/redis-server.js";

export type TestRedis = RedisServerProcess;

/**
 * For a test's primaries and masters: a replica gets the data as soon as it asks, instead of after
 * Redis's default 5 s wait for more replicas to share one transfer (every start and every rejoin).
 */
export const SYNC_AT_ONCE = ["--repl-diskless-sync-delay", "0"];

/** A private redis-server on a free loopback port, with AOF on so a restart keeps its data. */
export function startRedis(): Promise<TestRedis> {
  return startRedisServer({ args: ["--appendonly", "yes", "--protected-mode", "yes"] });
}

/** The Redis a suite's servers share, and the environment that points a server at it. */
export interface RedisUnderTest {
  /** REDIS_URL, or REDIS_CLUSTER_NODES. */
  env: Record<string, string>;
  /** The reply of the node that serves `key` (on a cluster, the master of its slot). */
  commandFor(key: string, args: string[]): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * A standalone redis-server, or a Redis Cluster of 3 masters and 3 replicas when
 * CHAT_TEST_REDIS=cluster: a suite written against this runs unchanged on either topology
 * (`test/integration/*.cluster.test.ts` run theirs on a cluster).
 */
export async function startRedisUnderTest(): Promise<RedisUnderTest> {
  const topology = process.env.CHAT_TEST_REDIS ?? "standalone";
  if (topology === "cluster") {
    const { startRedisCluster } = await import("./redis-cluster.js");
    const cluster = await startRedisCluster();
    return {
      env: { REDIS_CLUSTER_NODES: cluster.nodeList },
      commandFor: async (key, args) => cluster.command(await cluster.masterOf(key), args),
      stop: cluster.stop,
    };
  }
  if (topology !== "standalone") throw new Error(`CHAT_TEST_REDIS: expected standalone or cluster, got "${topology}"`);
  const redis = await startRedis();
  return { env: { REDIS_URL: redis.url }, commandFor: (_key, args) => commandOn(redis.port, args), stop: redis.stop };
}
