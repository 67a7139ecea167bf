import cluster from "node:cluster";
import { randomUUID } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { createAdapter as createRedisAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import type { Config } from "../config.js";
import { createAccounts } from "../http/accounts.js";
import { API_BODY_BYTES, createApp } from "../http/app.js";
import { createHashGate } from "../lib/hash-gate.js";
import { isPrimaryMessage, sendToPrimary } from "../lib/ipc.js";
import type { Logger } from "../lib/logger.js";
import { Counters, createMetricsRegistry } from "../lib/metrics.js";
import { createRealtime, type Realtime } from "../realtime/index.js";
import { createSessionMiddleware } from "../session/middleware.js";
import { adapterPublisher, adapterSubscriber } from "../store/adapter-clients.js";
import { createKeys, type Keys } from "../store/keys.js";
import { createLiveFeed } from "../store/live-feed.js";
import { createLoginLimits } from "../store/login-limits.js";
import { createMessageStore } from "../store/messages.js";
import { createPresenceStore } from "../store/presence.js";
import { createRateLimiter } from "../store/rate-limits.js";
import { createReadStateStore } from "../store/read-state.js";
import { connectRedisClients, type RedisClients, type RedisTarget } from "../store/redis.js";
import { replicaConfirmer } from "../store/replication.js";
import { createRoomAccessStore } from "../store/room-access.js";
import { createRoomStore } from "../store/rooms.js";
import { createSearchStore } from "../store/search.js";
import { createSessionKeeper, createSessionStore, sharedDevSecret } from "../store/sessions.js";
import { createUserStore } from "../store/users.js";
import { armConnectionDeadlines } from "./connection-deadlines.js";
import { hostMetrics } from "./metrics.js";
import { takeRoutedConnections } from "./routed-connections.js";

const DEDUPE_SECONDS = 86_400;
/** The part of its time limit a stopping worker may spend sending its clients away. */
const DRAIN_SHARE = 0.6;
/**
 * How long a worker that sent clients away keeps its presence counts, so that those clients are
 * counted on their new workers first: its users then never show offline for a second. A client
 * retries after 0.25-0.75 s, and its handshake takes milliseconds. At most HANDOVER_SHARE of the
 * budget; a worker that had no clients skips it.
 */
const PRESENCE_HANDOVER_MS = 2000;
const HANDOVER_SHARE = 0.2;

export interface ChatWorker {
  /** The worker's HTTP server; in a cluster the primary hands it connections, in tests it may listen. */
  server: HttpServer;
  realtime: Realtime;
  instance: string;
  /**
   * Drains clients (they reconnect elsewhere; `onDrained` is told when the last one was sent away),
   * leaves presence and closes every Redis connection.
   */
  stop(options?: StopOptions): Promise<void>;
}

export interface StopOptions {
  onDrained?: () => void;
  /** The whole stop's budget: SHUTDOWN_TIMEOUT_MS unless the primary says otherwise (a rolling restart). */
  timeoutMs?: number;
  /** The primary's hand-off backlog while the workers of this host take the clients over. */
  backlog?: () => number;
}

/**
 * Builds one worker: Redis clients, stores, the Express app and socket.io. The only place where
 * concrete objects are wired together; tests build as many as they need in one process.
 */
export async function createWorker(config: Config, log: Logger): Promise<ChatWorker> {
  const target = redisTargetOf(config);
  const instance = `${config.hostName}/${process.pid}`;
  const keys = createKeys(config.redisPrefix);
  const clients = await connectRedisClients(target, log);
  const redis = clients.main;
  const { adapter, subscribed } = await buildAdapter(config, clients, keys, log);

  const secret = config.sessionSecret ?? (await sharedDevSecret(redis, keys));
  const session = createSessionMiddleware(
    config,
    createSessionStore(redis, keys, config.sessionIdleSeconds, config.sessionAbsoluteSeconds),
    secret,
  );
  const users = createUserStore(redis, keys);
  const limiter = createRateLimiter(redis, keys);
  const roomLimits = { perUser: config.limits.roomsPerUser, createPerHour: config.limits.roomCreateRate };
  const rooms = createRoomStore(redis, keys, limiter, roomLimits);
  const access = createRoomAccessStore(redis, keys, limiter, roomLimits);
  await rooms.migrate();
  const presence = createPresenceStore(redis, keys, `${instance}#${randomUUID().slice(0, 8)}`, config.presenceTtlSeconds);
  await presence.heartbeat(); // registered before the first connection, so a crash is always swept
  const messages = createMessageStore(redis, keys, {
    historyLimit: config.limits.historyLimit,
    dedupeSeconds: DEDUPE_SECONDS,
    oneShard: clients.placement.oneShard,
    replicas: config.redisWait.replicas > 0 ? replicaConfirmer(clients.placement, config.redisWait, log) : undefined,
  });

  let accepting = false;
  const counters = new Counters();
  let realtime: Realtime | undefined;
  const app = createApp({
    counters,
    metrics: hostMetrics(createMetricsRegistry(counters, () => realtime?.io.engine.clientsCount ?? 0)),
    config,
    log,
    session,
    accounts: createAccounts({
      users,
      limiter,
      loginLimits: createLoginLimits(redis, keys, {
        free: config.limits.loginRate,
        perAddress: config.limits.loginAddressRate,
        windowSeconds: config.limits.loginWindowSeconds,
      }),
      hashGate: createHashGate(config.limits.hashMaxInFlight),
      limits: config.limits,
    }),
    instance,
    endSockets: (user, sessionId) => realtime?.endSessionSockets(user, sessionId),
    health: {
      accepting: () => accepting,
      redisReachable: () =>
        redis.ping().then(
          () => true,
          () => false,
        ),
    },
  });
  // The app must be the server's request listener before socket.io attaches: engine.io then
  // answers /socket.io/ itself and hands every other request to the app.
  const server = createServer(app);
  realtime = createRealtime(server, {
    config,
    log,
    instance,
    users,
    rooms,
    access,
    messages,
    presence,
    limiter,
    counters,
    search: createSearchStore(redis, keys),
    readState: createReadStateStore(redis, keys),
    session,
    sessions: createSessionKeeper(redis, keys, config.sessionIdleSeconds),
    openFeed: (handlers) => createLiveFeed(clients.live, redis, keys, handlers, log, counters),
    adapter,
  });
  const live = realtime;
  armConnectionDeadlines(server, {
    headersTimeoutMs: config.limits.httpHeadersTimeoutMs,
    requestTimeoutMs: config.limits.httpRequestTimeoutMs,
    // The largest body any route takes: a socket.io polling packet or a JSON API request.
    maxBodyBytes: Math.max(config.limits.socketMaxBytes, API_BODY_BYTES),
  });
  await subscribed(); // the adapter subscribes as socket.io creates its namespace

  accepting = true;

  return {
    server,
    realtime: live,
    instance,
    async stop({ onDrained, timeoutMs = config.shutdownTimeoutMs, backlog = () => 0 } = {}) {
      accepting = false;
      // The budget: up to 60 % sending clients away, up to 20 % handing presence over, the rest
      // for closing Redis and exiting. Each step takes only as long as its work: an idle worker
      // stops at once.
      const sentAway = live.io.of("/").sockets.size;
      await live.drain({ budgetMs: timeoutMs * DRAIN_SHARE, backlog });
      onDrained?.();
      if (sentAway > 0) await sleep(Math.min(PRESENCE_HANDOVER_MS, timeoutMs * HANDOVER_SHARE));
      live.announcer.changed(await presence.leave().catch(() => []));
      await live.announcer.flush();
      live.announcer.stop();
      live.delivery.stop();
      await new Promise<void>((resolve) => live.io.close(() => resolve()));
      await clients.close();
    },
  };
}

function redisTargetOf(config: Config): RedisTarget {
  if (config.redisCluster) return { cluster: config.redisCluster };
  if (config.redisSentinel) return { sentinel: config.redisSentinel };
  return { url: config.redisUrl ?? config.redisLocalUrl };
}

async function buildAdapter(config: Config, clients: RedisClients, keys: Keys, log: Logger) {
  const none = async () => undefined;
  if (config.adapter === "cluster") {
    // Loaded only when chosen: every module a worker loads is CPU its replacement spends booting
    // while the clients of a crashed worker wait (B5).
    const { createAdapter: createClusterAdapter } = await import("@socket.io/cluster-adapter");
    return { adapter: cluster.isWorker ? createClusterAdapter() : undefined, subscribed: none };
  }
  const { pub, sub } = await clients.adapterClients();
  const publisher = adapterPublisher(pub, (err) => log.debug({ err }, "broadcast to other workers dropped"));
  const subscriber = adapterSubscriber(sub);
  const adapter = clients.shardedAdapter
    ? createShardedAdapter(publisher, subscriber.client, { channelPrefix: keys.adapterChannel })
    : createRedisAdapter(publisher, subscriber.client, { key: keys.adapterChannel });
  return { adapter, subscribed: subscriber.subscribed };
}

/** Runs a worker under the cluster primary: connections arrive over IPC, never via listen(). */
export async function runWorker(config: Config, log: Logger): Promise<void> {
  const worker = await createWorker(config, log);
  takeRoutedConnections(worker.server, worker.realtime.io.engine, cluster.worker?.id ?? 0);
  let stopping = false;
  let backlog = 0;
  const stop = (reason: string, timeoutMs = config.shutdownTimeoutMs) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason, timeoutMs }, "worker stopping");
    const force = setTimeout(() => process.exit(0), timeoutMs);
    force.unref();
    worker.stop({ onDrained: () => sendToPrimary({ type: "worker:drained" }), timeoutMs, backlog: () => backlog }).then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err }, "worker stop failed");
        process.exit(1);
      },
    );
  };
  process.on("message", (message: unknown) => {
    if (!isPrimaryMessage(message)) return;
    if (message.type === "worker:shutdown") stop("asked by primary", message.timeoutMs);
    if (message.type === "router:backlog") backlog = message.connections;
  });
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // The primary is gone (killed): nobody will hand us connections any more.
  process.on("disconnect", () => stop("primary gone"));
  sendToPrimary({ type: "worker:ready", instance: worker.instance });
  log.info({ instance: worker.instance, adapter: config.adapter }, "worker ready");
}
