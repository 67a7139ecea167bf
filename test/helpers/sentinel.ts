import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@redis/client";
import { redisAnswers } from "../../src/primary/local-redis.js";
import { freePort } from "./redis.js";

/** One redis-server or redis-sentinel process on a loopback port; restart() reuses port and folder. */
export interface RedisProcess {
  port: number;
  start(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface SentinelSet {
  /** The monitored primary's name. */
  name: string;
  /** The nodes in start order: the first started as primary, the second as its replica. */
  nodes: RedisProcess[];
  sentinels: RedisProcess[];
  /** REDIS_SENTINELS for the server. */
  sentinelList: string;
  /** The primary's port as the sentinels see it now. */
  primaryPort(): Promise<number>;
  /** A node's INFO replication as fields. */
  replication(port: number): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** Short enough for a test; production settings are in deploy/redis/sentinel-*.conf. */
const DOWN_AFTER_MS = 1000;
const FAILOVER_TIMEOUT_MS = 3000;

function launcher(command: string, args: () => string[], port: number): RedisProcess {
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(command, args(), { stdio: "ignore" });
    for (let i = 0; i < 200; i++) {
      if (await redisAnswers("127.0.0.1", port, 200)) return;
      await sleep(25);
    }
    throw new Error(`${command} did not start on ${port}`);
  };
  const halt = async (signal: NodeJS.Signals) => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill(signal);
    await exited;
  };
  return { port, start, restart: start, kill: () => halt("SIGKILL"), stop: () => halt("SIGTERM") };
}

async function command(port: number, args: string[]): Promise<unknown> {
  const client = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false } });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/**
 * A primary, one replica and three sentinels (quorum 2) on free loopback ports, with failover
 * settings short enough for a test. Resolves once every sentinel knows the replica and the others.
 */
export async function startSentinelSet(name = "chat"): Promise<SentinelSet> {
  const dir = mkdtempSync(join(tmpdir(), "chat-sentinel-"));
  const [primaryPort, replicaPort, ...sentinelPorts] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
  const nodeArgs = (port: number, replicaOf?: number) => () => [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--dbfilename",
    `dump-${port}.rdb`,
    "--appendonly",
    "yes",
    "--appendfilename",
    `aof-${port}.aof`,
    "--appenddirname",
    `aof-${port}`,
    "--save",
    "",
    ...(replicaOf ? ["--replicaof", "127.0.0.1", String(replicaOf)] : []),
  ];
  const primary = launcher("redis-server", nodeArgs(primaryPort as number), primaryPort as number);
  const replica = launcher("redis-server", nodeArgs(replicaPort as number, primaryPort), replicaPort as number);
  const sentinels = (sentinelPorts as number[]).map((port) => {
    const file = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      file,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${name} ${FAILOVER_TIMEOUT_MS}`,
        `sentinel parallel-syncs ${name} 1`,
        "",
      ].join("\n"),
    );
    return launcher("redis-sentinel", () => [file], port);
  });
  const all = [primary, replica, ...sentinels];
  const stop = async () => {
    await Promise.all(all.map((proc) => proc.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const proc of all) await proc.start();
    const set: SentinelSet = {
      name,
      nodes: [primary, replica],
      sentinels,
      sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(","),
      async primaryPort() {
        const reply = (await command(sentinels[0]?.port ?? 0, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name])) as string[];
        return Number(reply[1]);
      },
      async replication(port) {
        const info = String(await command(port, ["INFO", "replication"]));
        return Object.fromEntries(
          info
            .split("\r\n")
            .filter((line) => line.includes(":"))
            .map((line) => line.split(":", 2) as [string, string]),
        );
      },
      stop,
    };
    // Sentinels find the replica from the primary and each other through its hello channel.
    for (let i = 0; i < 200; i++) {
      const views = await Promise.all(
        sentinels.map(async (s) => {
          const [others, replicas] = (await Promise.all([
            command(s.port, ["SENTINEL", "SENTINELS", name]),
            command(s.port, ["SENTINEL", "REPLICAS", name]),
          ])) as [unknown[], unknown[]];
          return others.length >= 2 && replicas.length >= 1;
        }),
      );
      if (views.every(Boolean) && (await set.replication(replicaPort as number)).master_link_status === "up") return set;
      await sleep(100);
    }
    throw new Error("sentinels did not discover each other and the replica in 20 s");
  } catch (err) {
    await stop();
    throw err;
  }
}
