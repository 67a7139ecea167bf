import t from "tap";
import { createLogger } from "../../src/lib/logger.js";
import { closeRedis, connectRedis, isRedisUnavailable, type RedisClient } from "../../src/store/redis.js";
import { startRedis } from "../helpers/redis.js";
import { until } from "../helpers/until.js";

const log = createLogger("silent", "worker");

t.test("a client made like another keeps its own name and its own offline behaviour", async (t) => {
  const redis = await startRedis();
  const clients: RedisClient[] = [];
  t.teardown(async () => {
    for (const client of clients) await closeRedis(client);
    await redis.stop();
  });
  const main = await connectRedis({ url: redis.url, name: "main", log });
  // As the worker makes the adapter's subscriber: queueing while disconnected, from a fail-fast parent.
  const sub = await connectRedis({ url: redis.url, name: "sub", log, like: main, failFast: false, watched: false });
  clients.push(main, sub);

  t.equal(await main.clientGetName(), "main", "the parent keeps its name");
  t.equal(await sub.clientGetName(), "sub", "the duplicate has its own");

  await redis.kill();
  await until(() => !main.isReady && !sub.isReady, "both clients have seen Redis go");
  const commands = Promise.allSettled([main.get("k"), sub.get("k")]);
  await redis.restart();
  const [failed, queued] = await commands;
  t.ok(failed.status === "rejected" && isRedisUnavailable(failed.reason), "the fail-fast parent refused its command while Redis was down");
  t.same(queued, { status: "fulfilled", value: null }, "the duplicate queued its command and ran it once Redis was back");
});
