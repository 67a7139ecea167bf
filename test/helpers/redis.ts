import { type RedisServerProcess, startRedisServer } from "../../src/lib/redis-server.js";

export { freePort } from "../../src/lib/redis-server.js";

export type TestRedis = RedisServerProcess;

/** A private redis-server on a free loopback port, with AOF on so a restart keeps its data. */
export function startRedis(): Promise<TestRedis> {
  return startRedisServer({ args: ["--appendonly", "yes", "--protected-mode", "yes"] });
}
