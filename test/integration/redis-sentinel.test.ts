import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/lib/logger.js";
import { connectRedisClients, isRedisUnavailable } from "../../src/store/redis.js";
import { startSentinelSet } from "../helpers/sentinel.js";
import { until } from "../helpers/until.js";

const log = createLogger("silent", "worker");
/** How soon a command must fail once the client knows the primary is gone. */
const FAST_MS = 100;

t.test("redis clients through Sentinel > primary killed > commands fail fast, then every client follows the new primary", async (t) => {
  const set = await startSentinelSet();
  t.teardown(() => set.stop());
  const [primary, replica] = set.nodes;
  if (!primary || !replica) throw new Error("no nodes");
  const { redisSentinel } = loadConfig({ REDIS_SENTINELS: set.sentinelList, REDIS_SENTINEL_NAME: set.name });
  if (!redisSentinel) throw new Error("no Sentinel config");
  const clients = await connectRedisClients({ sentinel: redisSentinel }, log);
  t.teardown(() => clients.close());
  const { pub, sub } = await clients.adapterClients();
  const heard: string[] = [];
  await sub.subscribe("ha:channel", (message) => heard.push(message));
  const liveHeard: string[] = [];
  await clients.live.client.sSubscribe("ha:live", (message) => liveHeard.push(message));
  let restored = 0;
  clients.live.onRestored(() => restored++);

  await clients.main.set("ha:key", "before");
  t.equal(await clients.main.wait(1, 1000), 1, "the replica confirms the write (WAIT)");
  await pub.publish("ha:channel", "before");
  await until(() => heard.includes("before"), "the subscriber hears the primary");

  await primary.kill();
  // The command that finds the connection gone may wait through the whole failover (up to
  // HANG_TIMEOUT_MS); once the client has seen the loss, the gate fails the next ones at once.
  const failsFast = async (): Promise<unknown> => {
    const settled = clients.main.get("ha:key").then(
      () => undefined,
      (err: unknown) => err,
    );
    return Promise.race([settled, sleep(FAST_MS).then(() => undefined)]);
  };
  const started = Date.now();
  let refused: unknown;
  while (refused === undefined && Date.now() - started < 2000) refused = await failsFast();
  t.ok(refused !== undefined, `a command fails within ${FAST_MS} ms while the primary is gone (${Date.now() - started} ms after the kill)`);
  t.ok(isRedisUnavailable(refused), "as an outage (E_UNAVAILABLE)", {
    error: refused instanceof Error ? `${refused.constructor.name}: ${refused.message}` : String(refused),
  });

  // After the promotion, commands, the live subscriber and pub/sub all reach the new primary.
  let value: string | null = null;
  for (let i = 0; i < 150 && value === null; i++) {
    value = await clients.main.get("ha:key").catch(() => null);
    if (value === null) await sleep(100);
  }
  t.equal(value, "before", "the acknowledged write is on the new primary");
  t.equal(await set.primaryPort(), replica.port, "the replica was promoted");
  await until(() => restored > 0, "the live subscriber is told that it is back");
  let livePublished = 0;
  for (let i = 0; i < 100 && !liveHeard.includes("after"); i++) {
    livePublished += await clients.main.sPublish("ha:live", "after").catch(() => 0);
    await sleep(100);
  }
  t.ok(liveHeard.includes("after") && livePublished > 0, "the live subscriber was re-subscribed on the new primary");
  let published = 0;
  for (let i = 0; i < 100 && !heard.includes("after"); i++) {
    published += await pub.publish("ha:channel", "after").catch(() => 0);
    await sleep(100);
  }
  t.ok(heard.includes("after") && published > 0, "the subscriber was re-subscribed on the new primary");
});
