/**
 * The reference relay of docs/performance.md: the smallest socket.io 4.8 server that speaks the
 * project's wire protocol well enough for the load generator, with `@socket.io/redis-adapter` and
 * the same cluster shape (node:cluster + @socket.io/sticky). It persists nothing and acks at
 * once, so every benchmark figure of the project can be read as a ratio to plain socket.io.
 *
 * Environment (the subset of the project's variables the harness sets): WORKERS, PORT, HOST,
 * REDIS_URL, REDIS_PREFIX.
 */
import cluster from "node:cluster";
import { runPrimary } from "./primary.js";
import { runWorker } from "./worker.js";

export interface ReferenceConfig {
  workers: number;
  port: number;
  host: string;
  redisUrl: string;
  redisPrefix: string;
}

function readConfig(env: NodeJS.ProcessEnv): ReferenceConfig {
  const int = (name: string, fallback: number): number => {
    const raw = env[name];
    const value = raw === undefined || raw === "" ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
    return value;
  };
  return {
    workers: Math.max(1, int("WORKERS", 1)),
    port: int("PORT", 0),
    host: env.HOST || "127.0.0.1",
    redisUrl: env.REDIS_URL || "redis://127.0.0.1:6379",
    redisPrefix: env.REDIS_PREFIX || "ref:",
  };
}

const config = readConfig(process.env);
if (cluster.isPrimary) runPrimary(config);
else
  runWorker(config).catch((err: unknown) => {
    console.error(JSON.stringify({ level: 50, msg: "reference worker failed", err: String(err) }));
    process.exit(1);
  });
