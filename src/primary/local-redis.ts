import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../lib/logger.js";

export interface EmbeddedRedis {
  url: string;
  stop(): Promise<void>;
}

/** Whether a Redis answers PING at host:port within the timeout. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export class RedisNotInstalledError extends Error {
  override readonly name = "RedisNotInstalledError";
  constructor() {
    super(
      "No Redis found: nothing answers on 127.0.0.1:6379, REDIS_URL is not set, and redis-server is not on PATH.\n" +
        "Install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)\n" +
        "or point the server at one: REDIS_URL=redis://host:6379 npm start",
    );
  }
}

/**
 * The development default: a private redis-server on loopback with the append-only file on, its
 * data under `dataDir`, so sessions and history survive restarts. Stopped with the primary.
 */
export async function startEmbeddedRedis(dataDir: string, log: Logger): Promise<EmbeddedRedis> {
  const dir = join(dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", dir, "--save", ""],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const spawnError = await Promise.race([
    new Promise<Error | undefined>((resolve) => child.once("error", resolve)),
    waitForRedis(port).then(() => undefined),
  ]);
  if (spawnError) {
    if ((spawnError as NodeJS.ErrnoException).code === "ENOENT") throw new RedisNotInstalledError();
    throw spawnError;
  }
  log.info({ port, dir, redisPid: child.pid }, "started embedded redis-server");
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM"); // redis-server flushes its append-only file on SIGTERM
      const code = await Promise.race([exited, sleep(5000).then(() => "timeout" as const)]);
      if (code === "timeout") child.kill("SIGKILL");
    },
  };
}

async function waitForRedis(port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await redisAnswers("127.0.0.1", port, 200)) return;
    await sleep(50);
  }
  throw new Error(`embedded redis-server did not answer on port ${port}`);
}
