/**
 * `node dist/bench/wait-cost.js [--rate N] [--seconds N]`: what REDIS_WAIT_REPLICAS=1 costs per
 * message. A primary and a replica (throwaway redis-servers); the project's message store sends at
 * a fixed rate, in the batches a worker makes (every send of one event-loop turn), first without
 * and then with WAIT after each batch. Prints, for each, the p50/p99 time from append() to its ack,
 * the store process's CPU per message and the primary's. The socket.io side is left out: it does
 * not change with WAIT.
 */
import { parseArgs } from "node:util";
import { createClient } from "@redis/client";
import { createLogger } from "../src/lib/logger.js";
import { createKeys } from "../src/store/keys.js";
import { createMessageStore } from "../src/store/messages.js";
import { oneServer, type Redis } from "../src/store/redis.js";
import { replicaConfirmer } from "../src/store/replication.js";
import { SCRIPTS } from "../src/store/script-registry.js";
import { newHistogram, summarize } from "./lib/histogram.js";
import { type RedisServer, startRedis } from "./lib/redis-server.js";
import { sleep } from "./lib/time.js";

const TICK_MS = 10;
const SENDERS = 1000;

interface Result {
  wait: boolean;
  acked: number;
  refused: number;
  p50Ms: number;
  p99Ms: number;
  nodeCpuUsPerMessage: number;
  redisCpuUsPerMessage: number;
  /** WAIT commands the primary ran (one per batch when waiting). */
  waits: number;
}

async function measure(primary: RedisServer, wait: boolean, rate: number, seconds: number): Promise<Result> {
  const client = createClient({ url: primary.url, commandOptions: { timeout: 0 }, scripts: SCRIPTS });
  client.on("error", () => undefined);
  await client.connect();
  const redis: Redis = client;
  const log = createLogger("silent");
  const keys = createKeys(`wait-${wait ? 1 : 0}:`);
  const store = createMessageStore(redis, keys, {
    historyLimit: 10_000,
    dedupeSeconds: 600,
    replicas: wait ? replicaConfirmer(oneServer(redis), { replicas: 1, timeoutMs: 500 }, log) : undefined,
  });
  const latency = newHistogram();
  let acked = 0;
  let refused = 0;
  let sent = 0;
  const perTick = (rate * TICK_MS) / 1000;
  const rateLimit = { rate: 1_000_000, burst: 1_000_000 };
  const pending: Promise<void>[] = [];
  const waitsBefore = await waitCalls(primary);
  const cpuBefore = process.cpuUsage();
  const redisBefore = await primary.cpuUs();
  const started = performance.now();
  for (let tick = 0; performance.now() - started < seconds * 1000; tick++) {
    const due = Math.floor((tick + 1) * perTick) - sent;
    for (let i = 0; i < due; i++, sent++) {
      const at = performance.now();
      const from = `user${sent % SENDERS}`;
      pending.push(
        store
          .append({ to: `#room${sent % (SENDERS / 2)}` as `#${string}`, from, text: "hello there", clientId: `c${sent}` }, rateLimit)
          .then(
            () => {
              acked++;
              latency.recordValue(Math.max(1, Math.round((performance.now() - at) * 1000)));
            },
            () => {
              refused++;
            },
          ),
      );
    }
    const next = started + (tick + 1) * TICK_MS;
    await sleep(Math.max(0, next - performance.now()));
  }
  await Promise.all(pending);
  const cpu = process.cpuUsage(cpuBefore);
  const redisCpu = (await primary.cpuUs()) - redisBefore;
  await client.close();
  const summary = summarize(latency);
  return {
    wait,
    acked,
    refused,
    p50Ms: summary.p50Ms,
    p99Ms: summary.p99Ms,
    nodeCpuUsPerMessage: (cpu.user + cpu.system) / sent,
    redisCpuUsPerMessage: redisCpu / sent,
    waits: (await waitCalls(primary)) - waitsBefore,
  };
}

async function waitCalls(primary: RedisServer): Promise<number> {
  const stats = (await primary.info("commandstats")).cmdstat_wait ?? "";
  return Number(/calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rate: { type: "string", default: "5000" }, seconds: { type: "string", default: "10" } } });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  if (!(rate >= 100 && rate <= 100_000) || !(seconds >= 1 && seconds <= 600)) throw new Error("--rate 100..100000, --seconds 1..600");
  const primary = await startRedis();
  const replica = await startRedis();
  try {
    await replica.command("REPLICAOF", "127.0.0.1", String(primary.port));
    for (let i = 0; i < 100 && (await replica.info("replication")).master_link_status !== "up"; i++) await sleep(100);
    // Unreported: the first seconds of a process (JIT, the script's first load) are slower.
    await measure(primary, true, rate, 3);
    for (const wait of [false, true, false, true]) {
      const result = await measure(primary, wait, rate, seconds);
      process.stdout.write(`${JSON.stringify({ rate, seconds, ...result })}\n`);
    }
  } finally {
    await replica.stop();
    await primary.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
