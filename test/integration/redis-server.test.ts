import t from "tap";
import { commandOn, parseInfo, startRedisServer } from "../../src/lib/redis-server.js";

t.test("redis-server launcher > started > the process on its port is the one it started", async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const info = parseInfo(String(await commandOn(redis.port, ["INFO", "server"])));
  t.equal(Number(info.process_id), redis.pid());
});

t.test("redis-server launcher > a port another Redis answers on > start fails and names the clash", async (t) => {
  const taken = await startRedisServer();
  t.teardown(() => taken.stop());
  await t.rejects(startRedisServer({ port: taken.port }), /already in use|answered by process/);
  t.equal(String(await commandOn(taken.port, ["PING"])), "PONG", "the Redis already there is left running");
});
