import type { DuplexOptions } from "node:stream";
import { createClient, type RedisClientType, type RedisClusterType, type RedisSentinelType } from "@redis/client";
import type { ClusterConfig, SentinelConfig } from "../config.js";
import type { Logger } from "../lib/logger.js";
import { SCRIPTS, type Scripts } from "./script-registry.js";

export { isRedisUnavailable } from "./outages.js";

// biome-ignore lint/complexity/noBannedTypes: node-redis's own default for "no modules, no functions"
type None = {};

/** One standalone node-redis connection, with the stores' scripts. */
export type RedisClient = RedisClientType<None, None, Scripts>;

/**
 * The commands the stores use. A standalone client, a Sentinel-managed primary (createSentinel)
 * and its leased connections all have them with the same signatures, so the stores run unchanged
 * on every topology; a new command used by a store is added here.
 */
export type Redis = Pick<
  RedisClient,
  | keyof Scripts
  | "get"
  | "set"
  | "del"
  | "exists"
  | "expire"
  | "pExpire"
  | "ttl"
  | "mGet"
  | "incr"
  | "hGet"
  | "hGetAll"
  | "hKeys"
  | "hmGet"
  | "hSet"
  | "hDel"
  | "sAdd"
  | "sRem"
  | "sCard"
  | "sMembers"
  | "sIsMember"
  | "sRandMember"
  | "sScan"
  | "xAdd"
  | "xRange"
  | "xRevRange"
  | "xRead"
  | "xInfoStream"
  | "ping"
  | "info"
  | "publish"
  | "sPublish"
  | "zAdd"
  | "zRem"
  | "zRange"
  | "wait"
>;

/**
 * What @socket.io/redis-adapter calls. Typed after the Sentinel's signatures, which are the looser
 * ones: a standalone client has them too.
 */
export type PubSubClient = Pick<
  RedisSentinelType,
  "publish" | "sPublish" | "subscribe" | "pSubscribe" | "sSubscribe" | "unsubscribe" | "pUnsubscribe"
> &
  // A cluster's takes the channels it routes by; the others take them too.
  Pick<RedisClusterType, "sUnsubscribe">;

type SocketOptions = NonNullable<NonNullable<Parameters<typeof createClient>[0]>["socket"]>;

export interface RedisOptions {
  url: string;
  name: string;
  log: Logger;
  /**
   * Fail commands at once while disconnected instead of queueing them: a chat send must answer
   * E_UNAVAILABLE quickly so the client retries, never hang until some timeout.
   */
  failFast?: boolean;
  /**
   * Bound commands by watching the connection (watchForHang) instead of timing each one. A
   * subscriber cannot PING between its subscriptions, so it keeps node-redis's per-command timeout.
   */
  watched?: boolean;
  /**
   * A client to duplicate rather than create anew: node-redis builds a class holding every command
   * for each createClient, a large part of a starting worker's CPU, while a duplicate shares its
   * parent's. Only the class is shared; the options here still apply.
   */
  like?: RedisClient;
}

/**
 * How much a connection takes in one write. node-redis writes its queued commands until the
 * socket's buffer reaches its high-water mark, then waits for "drain" in the next turn of the
 * event loop; with Node's 16 KB default an overloaded worker stores too few sends per turn, and a
 * PING queued behind them can wait until the connection is dropped as hung (docs/decisions.md).
 */
export const WRITE_BUFFER_BYTES = 1 << 20;

/** Reconnect backoff of every node connection: quick at first, at most 2 s, with jitter. */
export const reconnectDelay = (retries: number): number => Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100);

/**
 * A subscriber whose subscriptions survive reconnects and failovers. What was published while it
 * was away is lost, so `onRestored` tells its user to fill the gap from the streams.
 */
export interface LiveSubscriber {
  readonly client: Pick<PubSubClient, "sSubscribe" | "sUnsubscribe">;
  /** Calls `listener` each time the subscriber is back; returns a function that stops that. */
  onRestored(listener: () => void): () => void;
}

/** A primary's connection as WAIT and INFO need it: WAIT counts the writes made on that connection. */
export type ReplicaNode = Pick<Redis, "wait" | "info">;

/** Where keys live, as far as the stores must know it. */
export interface KeyPlacement {
  /**
   * Every key is on one server, so one script may touch the keys of several conversations (one
   * run for a batch of sends). On a Redis Cluster a script touches one hash slot.
   */
  readonly oneShard: boolean;
  /** The connection that wrote `key` on its primary. */
  nodeFor(key: string): Promise<ReplicaNode>;
}

/** The placement of a standalone Redis or a Sentinel-managed primary: one server, one connection. */
export function oneServer(redis: ReplicaNode): KeyPlacement {
  return { oneShard: true, nodeFor: async () => redis };
}

/** Every Redis connection a worker holds, whatever the topology. */
export interface RedisClients {
  /** Commands of every store; after a failover, the new primary's. */
  readonly main: Redis;
  readonly placement: KeyPlacement;
  /**
   * The socket.io adapter must use sharded pub/sub (createShardedAdapter): a Redis Cluster
   * forwards classic PUBLISH to every node, which would not scale with shards.
   */
  readonly shardedAdapter: boolean;
  /** The live delivery path's sharded pub/sub subscriber, a connection of its own on the same primary. */
  readonly live: LiveSubscriber;
  /** The socket.io adapter's publishing and subscribing clients (the subscriber made on first call). */
  adapterClients(): Promise<{ pub: PubSubClient; sub: PubSubClient }>;
  /** Closes every connection. */
  close(): Promise<void>;
}

export type RedisTarget = { url: string } | { sentinel: SentinelConfig } | { cluster: ClusterConfig };

/**
 * The one client factory: a standalone Redis by URL, a Sentinel-managed primary or a Redis
 * Cluster. Commands fail fast with an outage error (E_UNAVAILABLE for the client) while the
 * primary of their keys is unreachable.
 */
export async function connectRedisClients(target: RedisTarget, log: Logger): Promise<RedisClients> {
  if ("sentinel" in target) {
    const { connectSentinelClients } = await import("./redis-sentinel.js");
    return connectSentinelClients(target.sentinel, log);
  }
  if ("cluster" in target) {
    const { connectClusterClients } = await import("./redis-cluster.js");
    return connectClusterClients(target.cluster, log);
  }
  const url = target.url;
  const main = await connectRedis({ url, name: "main", log });
  // The subscriber keeps its subscriptions through an outage (node-redis restores them before
  // "ready"), so it queues rather than fails, and keeps node-redis's per-command timeout.
  const live = await connectRedis({ url, name: "live-sub", log, failFast: false, watched: false, like: main });
  const all: RedisClient[] = [main, live];
  return {
    main,
    placement: oneServer(main),
    shardedAdapter: false,
    live: {
      client: live,
      onRestored(listener) {
        live.on("ready", listener);
        return () => live.off("ready", listener);
      },
    },
    async adapterClients() {
      // The subscriber must be a dedicated connection (socket.io-redis-adapter #387); publishing can share.
      const sub = await connectRedis({ url, name: "adapter-sub", log, failFast: false, watched: false, like: main });
      all.push(sub);
      return { pub: main, sub };
    },
    async close() {
      await Promise.allSettled(all.map((client) => closeRedis(client)));
    },
  };
}

/** Creates and connects a node-redis client that has an error listener (else an error kills the process). */
export async function connectRedis({ url, name, log, failFast = true, watched = true, like }: RedisOptions): Promise<RedisClient> {
  // node-redis hands these on to net.createConnection, whose Socket takes a stream's options too.
  const socket: SocketOptions & Pick<DuplexOptions, "writableHighWaterMark"> = {
    connectTimeout: 5000,
    writableHighWaterMark: WRITE_BUFFER_BYTES,
    reconnectStrategy: reconnectDelay,
  };
  // Every option is given, so a duplicate inherits none of its parent's (an empty commandOptions
  // keeps node-redis's per-command timeout).
  const options = { url, name, disableOfflineQueue: failFast, commandOptions: watched ? { timeout: 0 } : {}, socket, scripts: SCRIPTS };
  const client: RedisClient = like ? like.duplicate(options) : createClient(options);
  let down = false;
  client.on("error", (err: Error) => {
    if (!down) log.warn({ client: name, err: err.message }, "redis connection error");
    down = true;
  });
  client.on("ready", () => {
    if (down) log.info({ client: name }, "redis connection restored");
    down = false;
  });
  await client.connect();
  if (watched) watchForHang(client, name, log);
  return client;
}

/** How long a PING may stay unanswered before Redis counts as hung, and how often one is sent. */
export const HANG_TIMEOUT_MS = 5000;
const PING_EVERY_MS = 1000;

/**
 * Fails the commands of a Redis that stopped answering (stopped, or a half-open connection), once
 * per connection instead of once per command: node-redis would arm an AbortSignal.timeout for
 * every command, a timer per command whether or not the reply came at once. Here one PING a second is in flight;
 * when one has waited HANG_TIMEOUT_MS, the connection is dropped, which rejects every waiting
 * command (E_UNAVAILABLE), and opened again; meanwhile commands fail at once (failFast).
 * Blocking reads shorter than the timeout (the feed's XREAD BLOCK) only delay the PING.
 */
function watchForHang(client: RedisClient, name: string, log: Logger): void {
  let pingSince: number | undefined;
  let reconnecting = false;
  const reconnect = (): void => {
    // The reply may be read but not yet handled after a long busy stretch of this process: decide
    // after the event loop has polled its sockets once more.
    setImmediate(() => {
      if (pingSince === undefined || !client.isReady) return;
      log.warn({ client: name, waitedMs: Date.now() - pingSince }, "redis stopped answering; reconnecting");
      pingSince = undefined;
      reconnecting = true;
      client.destroy();
      client
        .connect()
        .catch(() => undefined)
        .finally(() => {
          reconnecting = false;
        });
    });
  };
  const timer = setInterval(() => {
    if (!client.isOpen && !reconnecting) return clearInterval(timer); // closed for good
    if (reconnecting || !client.isReady) return;
    if (pingSince === undefined) {
      const since = Date.now();
      pingSince = since;
      const answered = () => {
        if (pingSince === since) pingSince = undefined;
      };
      client.ping().then(answered, answered);
    } else if (Date.now() - pingSince >= HANG_TIMEOUT_MS) {
      reconnect();
    }
  }, PING_EVERY_MS);
  timer.unref();
}

/**
 * Closes a client: gracefully (pending replies arrive) when connected. A client reconnecting to a
 * Redis that is down is only told to stop: awaiting its close() would wait for replies that never
 * come, and destroy() rejects node-redis's own queued handshake commands, which nobody handles.
 */
export async function closeRedis(client: RedisClient, timeoutMs = 2000): Promise<void> {
  if (!client.isOpen) return;
  if (!client.isReady) {
    client.close().catch(() => undefined);
    return;
  }
  const closed = client.close().then(
    () => true,
    () => false,
  );
  const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  if (!(await Promise.race([closed, timer])) && client.isOpen) client.destroy();
}
