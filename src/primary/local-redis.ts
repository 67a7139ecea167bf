import { join } from "node:path";
import type { Logger } from "../lib/logger.js";
import { startRedisServer } from "../lib/redis-server.js";

export { redisAnswers } from "../lib/redis-server.js";

export interface EmbeddedRedis {
  url: string;
  stop(): Promise<void>;
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
  const redis = await startRedisServer({ dir, args: ["--appendonly", "yes", "--appendfsync", "everysec"] }).catch((err: unknown) => {
    throw (err as NodeJS.ErrnoException).code === "ENOENT" ? new RedisNotInstalledError() : err;
  });
  log.info({ port: redis.port, dir, redisPid: redis.pid() }, "started embedded redis-server");
  return { url: redis.url, stop: () => redis.stop() };
}
