import type { EventEmitter } from "node:events";
import type { DuplexOptions } from "node:stream";
import { createCluster, type RedisClusterOptions, type RedisClusterType } from "@redis/client";
import type { ClusterConfig } from "../config.js";
import type { Logger } from "../lib/logger.js";
import { HANG_TIMEOUT_MS, type KeyPlacement, type Redis, type RedisClients, reconnectDelay, WRITE_BUFFER_BYTES } from "./redis.js";
import { SCRIPTS } from "./script-registry.js";

type NodeSocketOptions = NonNullable<NonNullable<RedisClusterOptions["defaults"]>["socket"]>;

/**
 * How soon after a node stops answering the slot map is asked again, and again as often while it
 * stays away: a replica takes over its slots within the cluster's node timeout, and commands for
 * those slots fail until the client knows the new master.
 */
const TOPOLOGY_REFRESH_MS = 1000;

/**
 * node-redis re-subscribes a dead master's sharded channels on its successor once the new master is
 * ready, with no event when that is done: the live path is told twice, at once and after this
 * delay, so what was published while the subscriptions moved is read from the streams too.
 */
const RESUBSCRIBE_SETTLE_MS = 1500;

/**
 * A Redis Cluster through node-redis's createCluster. Commands go to their key's master; a
 * script or transaction touches one hash slot (store/keys.ts tags each conversation's and each
 * user's keys). Node connections refuse commands while they are disconnected (no offline queue),
 * so a send to a shard whose master died fails at once with E_UNAVAILABLE, and succeeds again as
 * soon as the client has learnt the promoted replica. Sharded pub/sub (SSUBSCRIBE) has one
 * connection per master, each subscribed to the channels of its slots; node-redis moves them to
 * the new master after a failover.
 */
export async function connectClusterClients(config: ClusterConfig, log: Logger): Promise<RedisClients> {
  // node-redis hands these on to net.createConnection, whose Socket takes a stream's options too.
  const socket: NodeSocketOptions & Pick<DuplexOptions, "writableHighWaterMark"> = {
    tls: config.tls,
    connectTimeout: 5000,
    reconnectStrategy: reconnectDelay,
    writableHighWaterMark: WRITE_BUFFER_BYTES,
  };
  const cluster = createCluster({
    rootNodes: config.nodes.map(({ host, port }) => ({ socket: { host, port, tls: config.tls, connectTimeout: 5000 } })),
    defaults: { password: config.password, socket, disableOfflineQueue: true },
    // No single connection can be watched as store/redis.ts does: each command carries its timeout.
    commandOptions: { timeout: HANG_TIMEOUT_MS },
    topologyRefreshOnReconnectionAttemptStrategy: TOPOLOGY_REFRESH_MS,
    scripts: SCRIPTS,
  });
  const restored = watchNodes(cluster, log);
  await cluster.connect();
  log.info({ masters: cluster.masters.map(({ host, port }) => `${host}:${port}`) }, "redis cluster connected");
  const main: Redis = cluster;
  const placement: KeyPlacement = {
    oneShard: false,
    nodeFor: (key) => cluster.getNodeClientForKey(key),
  };

  return {
    main,
    placement,
    shardedAdapter: true,
    live: { client: cluster, onRestored: restored.add },
    // Sharded pub/sub runs on connections of its own per master, so the adapter shares the cluster.
    adapterClients: async () => ({ pub: cluster, sub: cluster }),
    async close() {
      restored.stop();
      await closeCluster(cluster);
    },
  };
}

interface RestoreListeners {
  /** Calls `listener` each time a node is back after one went away; returns its remover. */
  add(listener: () => void): () => void;
  stop(): void;
}

/** Logs node outages once and tells the live path when nodes are back (see RESUBSCRIBE_SETTLE_MS). */
function watchNodes(cluster: EventEmitter, log: Logger): RestoreListeners {
  const listeners = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  const down = new Set<string>();
  let stopped = false;
  const tell = (): void => {
    for (const listener of listeners) listener();
  };
  cluster.on("error", (err: Error) => log.warn({ err: err.message }, "redis cluster error"));
  cluster.on("node-error", (err: Error, node: { host: string; port: number }) => {
    const address = `${node.host}:${node.port}`;
    if (!down.has(address)) log.warn({ node: address, err: err.message }, "redis cluster node unreachable");
    down.add(address);
  });
  cluster.on("node-ready", (node: { host: string; port: number }) => {
    const address = `${node.host}:${node.port}`;
    if (down.delete(address)) log.info({ node: address }, "redis cluster node answering again");
    if (stopped) return;
    tell();
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopped) tell();
    }, RESUBSCRIBE_SETTLE_MS);
    timer.unref();
    timers.add(timer);
  });
  return {
    add(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

async function closeCluster(cluster: Pick<RedisClusterType, "close" | "destroy">, timeoutMs = 2000): Promise<void> {
  const closed = cluster.close().then(
    () => true,
    () => false,
  );
  const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  if (!(await Promise.race([closed, timer]))) cluster.destroy();
}
