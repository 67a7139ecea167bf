import { setTimeout as sleep } from "node:timers/promises";
import { parseInfo, type RedisServerProcess, startRedisServer } from "../../src/lib/redis-server.js";
import { SYNC_AT_ONCE } from "./redis.js";
import { commandOn } from "./redis-command.js";

export interface SentinelSet {
  /** The monitored primary's name. */
  name: string;
  /** The nodes in start order: the first started as primary, the second as its replica. */
  nodes: RedisServerProcess[];
  sentinels: RedisServerProcess[];
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

/**
 * A primary, one replica and three sentinels (quorum 2) on free loopback ports, with failover
 * settings short enough for a test. Resolves once every sentinel knows the replica and the others.
 */
export async function startSentinelSet(name = "chat"): Promise<SentinelSet> {
  const all: RedisServerProcess[] = [];
  const stop = async () => {
    await Promise.all(all.map((proc) => proc.stop()));
  };
  const started = async (proc: Promise<RedisServerProcess>) => {
    const running = await proc;
    all.push(running);
    return running;
  };
  const persistent = ["--appendonly", "yes", ...SYNC_AT_ONCE];
  try {
    const primary = await started(startRedisServer({ args: persistent }));
    const replica = await started(startRedisServer({ args: [...persistent, "--replicaof", "127.0.0.1", String(primary.port)] }));
    const sentinelConfig = [
      `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
      `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${name} ${FAILOVER_TIMEOUT_MS}`,
      `sentinel parallel-syncs ${name} 1`,
      "",
    ].join("\n");
    const sentinels: RedisServerProcess[] = [];
    for (let i = 0; i < 3; i++) sentinels.push(await started(startRedisServer({ program: "redis-sentinel", configFile: sentinelConfig })));
    const set: SentinelSet = {
      name,
      nodes: [primary, replica],
      sentinels,
      sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(","),
      async primaryPort() {
        const reply = (await commandOn(sentinels[0]?.port ?? 0, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name])) as string[];
        return Number(reply[1]);
      },
      async replication(port) {
        return parseInfo(String(await commandOn(port, ["INFO", "replication"])));
      },
      stop,
    };
    // Sentinels find the replica from the primary and each other through its hello channel.
    for (let i = 0; i < 200; i++) {
      const views = await Promise.all(
        sentinels.map(async (s) => {
          const [others, replicas] = (await Promise.all([
            commandOn(s.port, ["SENTINEL", "SENTINELS", name]),
            commandOn(s.port, ["SENTINEL", "REPLICAS", name]),
          ])) as [unknown[], unknown[]];
          return others.length >= 2 && replicas.length >= 1;
        }),
      );
      if (views.every(Boolean) && (await set.replication(replica.port)).master_link_status === "up") return set;
      await sleep(100);
    }
    throw new Error("sentinels did not discover each other and the replica in 20 s");
  } catch (err) {
    await stop();
    throw err;
  }
}
