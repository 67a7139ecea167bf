import cluster from "node:cluster";
import { randomUUID } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { createAdapter as createRedisAdapter } from "@socket.io/redis-adapter";
import type { Config } from "../config.js";
import { createAccounts } from "../http/accounts.js";
import { createApp } from "../http/app.js";
import { createSessionMiddleware } from "../http/session.js";
import type { Logger } from "../lib/logger.js";
import { Counters, createMetricsRegistry } from "../lib/metrics.js";
import { createRealtime, type Realtime } from "../realtime/index.js";
import { adapterPublisher, adapterSubscriber } from "../store/adapter-clients.js";
import { startFeedReader } from "../store/feed.js";
import { createKeys } from "../store/keys.js";
import { createMessageStore } from "../store/messages.js";
import { createPresenceStore } from "../store/presence.js";
import { createRateLimiter } from "../store/rate-limits.js";
import { closeRedis, connectRedis, type Redis } from "../store/redis.js";
import { createRoomStore } from "../store/rooms.js";
import { createSessionKeeper, createSessionStore, sharedDevSecret } from "../store/sessions.js";
import { createUserStore } from "../store/users.js";
import { hostMetrics } from "./metrics.js";
import { routeStickily } from "./sticky-routing.js";

/** How far a worker's feed reader may fall behind before its sockets are told to catch up. */
const FEED_LIMIT = 100_000;
const DEDUPE_SECONDS = 86_400;
/** The part of its time limit a stopping worker may spend sending its clients away. */
const DRAIN_SHARE = 0.6;
/**
 * How long a drained worker keeps its presence counts, so that the clients it sent away are
 * counted on their new workers first: its users then never show offline for a second. A client
 * retries after 0.25-0.75 s, and its handshake takes milliseconds. At most HANDOVER_SHARE of the
 * budget.
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
  const url = config.redisUrl ?? config.redisLocalUrl;
  const instance = `${config.hostName}/${process.pid}`;
  const keys = createKeys(config.redisPrefix);
  const redis = await connectRedis({ url, name: "main", log });
  const feedClient = await connectRedis({ url, name: "feed", log, like: redis });
  const clients: Redis[] = [redis, feedClient];
  const { adapter, subscribed } = await buildAdapter(config, redis, log, clients);

  const secret = config.sessionSecret ?? (await sharedDevSecret(redis, keys));
  const session = createSessionMiddleware(config, createSessionStore(redis, keys, config.sessionIdleSeconds), secret);
  const users = createUserStore(redis, keys);
  const limiter = createRateLimiter(redis, keys);
  const presence = createPresenceStore(redis, keys, `${instance}#${randomUUID().slice(0, 8)}`, config.presenceTtlSeconds);
  await presence.heartbeat(); // registered before the first connection, so a crash is always swept
  const messages = createMessageStore(redis, keys, {
    historyLimit: config.limits.historyLimit,
    feedLimit: FEED_LIMIT,
    dedupeSeconds: DEDUPE_SECONDS,
  });

  let accepting = false;
  const counters = new Counters();
  let realtime: Realtime | undefined;
  // Started before socket.io exists: until then there are no sockets to deliver to.
  const feed = await startFeedReader(
    feedClient,
    redis,
    keys,
    {
      deliver: (batch) => realtime?.delivery.deliver(batch),
      // Deliveries were lost to trimming: reconnecting makes every client catch up from its last id.
      lost: () => realtime?.reconnectAll(),
    },
    log,
  );
  const app = createApp({
    counters,
    metrics: hostMetrics(createMetricsRegistry(counters, () => realtime?.io.engine.clientsCount ?? 0)),
    config,
    log,
    session,
    accounts: createAccounts(users, limiter, config.limits),
    instance,
    endSockets: (sessionId) => realtime?.endSessionSockets(sessionId),
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
    rooms: createRoomStore(redis, keys),
    messages,
    presence,
    limiter,
    counters,
    session,
    sessions: createSessionKeeper(redis, keys, config.sessionIdleSeconds),
    syncFeed: (timeoutMs) => feed.sync(timeoutMs),
    adapter,
  });
  const live = realtime;
  await subscribed(); // the adapter subscribes as socket.io creates its namespace

  accepting = true;

  return {
    server,
    realtime: live,
    instance,
    async stop({ onDrained, timeoutMs = config.shutdownTimeoutMs, backlog = () => 0 } = {}) {
      accepting = false;
      // The budget: up to 60 % sending clients away, up to 20 % handing presence over, the rest
      // for closing Redis and exiting.
      await live.drain({ budgetMs: timeoutMs * DRAIN_SHARE, backlog });
      onDrained?.();
      await sleep(Math.min(PRESENCE_HANDOVER_MS, timeoutMs * HANDOVER_SHARE));
      live.announcer.changed(await presence.leave().catch(() => []));
      await live.announcer.flush();
      live.announcer.stop();
      await feed.stop();
      await new Promise<void>((resolve) => live.io.close(() => resolve()));
      await Promise.allSettled(clients.map((client) => closeRedis(client)));
    },
  };
}

async function buildAdapter(config: Config, redis: Redis, log: Logger, clients: Redis[]) {
  const none = async () => undefined;
  if (config.adapter === "cluster") {
    // Loaded only when chosen: every module a worker loads is CPU its replacement spends booting
    // while the clients of a crashed worker wait (B5).
    const { createAdapter: createClusterAdapter } = await import("@socket.io/cluster-adapter");
    return { adapter: cluster.isWorker ? createClusterAdapter() : undefined, subscribed: none };
  }
  // The subscriber must be a dedicated connection (socket.io-redis-adapter #387); publishing can share.
  const sub = await connectRedis({
    url: config.redisUrl ?? config.redisLocalUrl,
    name: "adapter-sub",
    log,
    failFast: false,
    watched: false,
    like: redis,
  });
  clients.push(sub);
  const publisher = adapterPublisher(redis, (err) => log.debug({ err }, "broadcast to other workers dropped"));
  const subscriber = adapterSubscriber(sub);
  const adapter = createRedisAdapter(publisher, subscriber.client, { key: `${config.redisPrefix}socket.io` });
  return { adapter, subscribed: subscriber.subscribed };
}

/** What the primary's supervisor tells a worker (supervisor.ts). */
type PrimaryMessage = { type: "worker:shutdown"; timeoutMs: number } | { type: "hand-off:backlog"; connections: number };

/** Runs a worker under the cluster primary: connections arrive over IPC, never via listen(). */
export async function runWorker(config: Config, log: Logger): Promise<void> {
  const worker = await createWorker(config, log);
  routeStickily(worker.realtime.io);
  let stopping = false;
  let backlog = 0;
  const stop = (reason: string, timeoutMs = config.shutdownTimeoutMs) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason, timeoutMs }, "worker stopping");
    const force = setTimeout(() => process.exit(0), timeoutMs);
    force.unref();
    worker.stop({ onDrained: () => process.send?.({ type: "worker:drained" }), timeoutMs, backlog: () => backlog }).then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err }, "worker stop failed");
        process.exit(1);
      },
    );
  };
  process.on("message", (message: PrimaryMessage | undefined) => {
    if (message?.type === "worker:shutdown") stop("asked by primary", message.timeoutMs);
    if (message?.type === "hand-off:backlog") backlog = message.connections;
  });
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // The primary is gone (killed): nobody will hand us connections any more.
  process.on("disconnect", () => stop("primary gone"));
  process.send?.({ type: "worker:ready", instance: worker.instance });
  log.info({ instance: worker.instance, adapter: config.adapter }, "worker ready");
}
