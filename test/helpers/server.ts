import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { type Config, loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/lib/logger.js";
import { type ChatWorker, createWorker } from "../../src/worker/index.js";

export interface TestServer {
  url: string;
  worker: ChatWorker;
  config: Config;
  stop(): Promise<void>;
}

/**
 * Limits loose enough that tests hit only the limit they test, and password hashes of a few ms
 * instead of 0.2 s of CPU each: the suite registers hundreds of users.
 */
export const LOOSE_LIMITS: Record<string, string> = {
  PASSWORD_HASH_COST: "minimal",
  SEND_RATE: "100000",
  SEND_BURST: "100000",
  LOGIN_RATE: "100000",
  LOGIN_ADDRESS_RATE: "100000",
  PASSWORD_HASH_MAX_IN_FLIGHT: "10000",
  REGISTER_RATE: "100000",
  CONNECT_RATE: "100000",
  EVENT_RATE: "100000",
  EVENT_BURST: "100000",
  USER_EVENT_RATE: "100000",
  USER_EVENT_BURST: "100000",
  SOCKETS_PER_USER: "100000",
  ROOMS_PER_USER: "100000",
  ROOM_CREATE_RATE: "100000",
  TYPING_INTERVAL_MS: "0",
};

/**
 * One worker in this process, listening on a free loopback port. Several of them sharing one Redis
 * (and prefix) behave like workers of a cluster, or hosts behind a balancer.
 * @param redis a Redis URL, or the environment of another topology (RedisUnderTest).
 */
export async function startServer(redis: string | { env: Record<string, string> }, env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({
    ...(typeof redis === "string" ? { REDIS_URL: redis } : redis.env),
    REDIS_PREFIX: `t${randomUUID().slice(0, 8)}:`,
    LOG_LEVEL: "silent",
    ...LOOSE_LIMITS,
    ...env,
  });
  const worker = await createWorker(config, createLogger(config.logLevel));
  await new Promise<void>((resolve) => worker.server.listen(0, "127.0.0.1", resolve));
  const { port } = worker.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    worker,
    config,
    stop: () => worker.stop(),
  };
}
