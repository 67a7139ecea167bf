import cluster from "node:cluster";
import { type AddressInfo, createServer, type Server } from "node:net";
import { setupPrimary as setupClusterAdapterPrimary } from "@socket.io/cluster-adapter";
import type { Config } from "../config.js";
import type { Logger } from "../lib/logger.js";
import { workerAllocator } from "./allocator.js";
import { type EmbeddedRedis, redisAnswers, startEmbeddedRedis } from "./local-redis.js";
import { serveHostMetrics } from "./metrics.js";
import { createRouter } from "./router.js";
import { Supervisor } from "./supervisor.js";

/**
 * When a worker drains or dies, thousands of clients reconnect within a second. Node's default
 * backlog (511) overflows then, and the kernel drops SYNs: those clients retry after 1, 3, 7 s and
 * miss their handshake timeout. The kernel caps this at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096;
/**
 * The largest request body the primary holds before it hands the connection over; larger ones get
 * 413. The app reads at most 16 KB (the JSON API); socket.io's polling POSTs up to SOCKET_MAX_BYTES.
 */
const MAX_BODY_BYTES = 64 * 1024;

/** Errors a client can provoke on a socket the primary holds; they must never take the host down. */
const CLIENT_ERRORS = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "ERR_STREAM_DESTROYED", "ERR_IPC_CHANNEL_CLOSED"]);

/**
 * The primary: owns the listening socket and routes each connection to a worker (router.ts: by
 * engine.io session, else least-connection). It has no app, no socket.io server and no Redis client.
 */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  const embedded = await resolveRedis(config, log);
  // Workers inherit REDIS_SENTINELS and its companions; otherwise they are told which Redis to use.
  const redisUrl = config.redisSentinel || config.redisCluster ? undefined : (embedded?.url ?? config.redisUrl ?? config.redisLocalUrl);

  const server = createServer();
  guardSockets(server, log);
  const router = createRouter(server, {
    maxBodyBytes: Math.max(MAX_BODY_BYTES, config.limits.socketMaxBytes),
    headersTimeoutMs: config.limits.httpHeadersTimeoutMs,
    requestTimeoutMs: config.limits.httpRequestTimeoutMs,
    log,
  });
  if (config.adapter === "cluster") setupClusterAdapterPrimary();
  serveHostMetrics();
  // The router passes the bytes it read as a Buffer, which the default JSON serialization would mangle.
  cluster.setupPrimary({ serialization: "advanced" });

  const allocator = workerAllocator(config.workerAllocator);
  const supervisor = new Supervisor({
    workers: config.workers,
    env: { ...allocator.env, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) },
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    restartTimeoutMs: config.restartTimeoutMs,
    router,
    startTimeoutMs: 30_000,
    log,
  });
  await supervisor.start();
  await new Promise<void>((resolve) => server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, resolve));
  const { port } = server.address() as AddressInfo;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  // Operators and scripts (PORT=0) need the address even when LOG_LEVEL=warn hides other info lines.
  const announce = config.logLevel === "silent" ? log : log.child({}, { level: "info" });
  announce.info(
    { url: `http://${host}:${port}`, workers: config.workers, adapter: config.adapter, allocator: allocator.name },
    "listening",
  );
  process.send?.("ready"); // pm2 wait_ready

  let restarting = false;
  process.on("SIGHUP", () => {
    if (restarting) return; // one rolling restart at a time
    restarting = true;
    supervisor
      .rollingRestart()
      .catch((err: Error) => log.error({ err: err.message }, "rolling restart failed"))
      .finally(() => {
        restarting = false;
      });
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const deadline = setTimeout(() => {
      log.error("shutdown deadline passed; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs + 5000);
    deadline.unref();
    server.close();
    router.close();
    supervisor
      .shutdown()
      .then(() => embedded?.stop())
      .then(
        () => {
          log.info("stopped");
          process.exit(0);
        },
        (err: Error) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("uncaughtException", (err: NodeJS.ErrnoException) => {
    // A client-induced socket error escaping a library must not drop every connection of the host.
    if (err.code && CLIENT_ERRORS.has(err.code)) return log.warn({ err: err.message, code: err.code }, "client socket error");
    log.fatal({ err }, "primary crashed");
    stop("uncaughtException");
  });
}

/** REDIS_URL (or Cloud Foundry's), Sentinel or a cluster if given; else a Redis on the local default; else our own. */
async function resolveRedis(config: Config, log: Logger): Promise<EmbeddedRedis | undefined> {
  if (config.redisUrl || config.redisSentinel || config.redisCluster) return undefined;
  const local = new URL(config.redisLocalUrl);
  if (await redisAnswers(local.hostname, Number(local.port || 6379))) {
    log.info({ url: config.redisLocalUrl }, "using the local Redis");
    return undefined;
  }
  return startEmbeddedRedis(config.dataDir, log);
}

function guardSockets(server: Server, log: Logger): void {
  server.on("connection", (socket) => {
    socket.on("error", (err: NodeJS.ErrnoException) => log.debug({ code: err.code }, "client socket error"));
    // Half-open connections that never send a request would otherwise be held forever.
    socket.setTimeout(120_000, () => socket.destroy());
  });
}
