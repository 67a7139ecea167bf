import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import t, { type Test } from "tap";
import { createLogger } from "../../src/lib/logger.js";
import { closeRedis, connectRedis, isRedisUnavailable, type RedisClient } from "../../src/store/redis.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

const log = createLogger("silent", "worker");

/** How a command ended: its reply, or the error it was rejected with, and after how long. */
async function outcome(command: Promise<unknown>): Promise<{ value?: unknown; error?: unknown; ms: number }> {
  const started = Date.now();
  try {
    return { value: await command, ms: Date.now() - started };
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
}

async function setUp(t: Test): Promise<{ redis: TestRedis; client: RedisClient }> {
  const redis = await startRedis();
  const client = await connectRedis({ url: redis.url, name: "hang-test", log });
  t.teardown(async () => {
    redis.thaw();
    await closeRedis(client);
    await redis.stop();
  });
  return { redis, client };
}

t.test("a hung Redis fails waiting commands within seconds, and the client recovers when it answers again", async (t) => {
  const { redis, client } = await setUp(t);
  await client.set("k", "before");

  redis.freeze();
  const waiting = await outcome(client.get("k"));
  t.ok(isRedisUnavailable(waiting.error), `the waiting command failed as an outage (${String(waiting.error)})`);
  t.ok(waiting.ms >= 4000 && waiting.ms < 9000, `after about 5 s (${waiting.ms} ms)`);

  const meanwhile = await outcome(client.get("k"));
  t.ok(isRedisUnavailable(meanwhile.error), "a command while Redis still hangs fails as an outage");
  t.ok(meanwhile.ms < 1000, `at once (${meanwhile.ms} ms)`);

  redis.thaw();
  for (let i = 0; i < 100 && !client.isReady; i++) await sleep(50);
  t.equal(await client.get("k"), "before", "the client works again once Redis answers");
});

t.test("a blocking read shorter than the hang timeout is not taken for a hang", async (t) => {
  const { client } = await setUp(t);
  const read = await outcome(client.xRead({ key: "empty-stream", id: "$" }, { BLOCK: 3000 }));
  t.equal(read.error, undefined, "the blocking read was not failed");
  t.equal(read.value, null, "it timed out on Redis's side, with no entries");
  t.ok(read.ms >= 2900, `after its own 3 s (${read.ms} ms)`);
  t.equal(await client.ping(), "PONG", "and the connection was kept");
});

t.test("a burst of commands is written in one go, not 16 KB per turn of the event loop", async (t) => {
  // Under overload a turn takes 50-150 ms; a PING behind a burst written 16 KB per turn waited
  // over 5 s there and the connection was dropped as hung (store/redis.ts, WRITE_BUFFER_BYTES).
  // The client's sockets, as Node announces each new one (a public diagnostics channel).
  const sockets: Socket[] = [];
  const onSocket = (message: unknown): void => {
    sockets.push((message as { socket: Socket }).socket);
  };
  subscribe("net.client.socket", onSocket);
  t.teardown(() => unsubscribe("net.client.socket", onSocket));
  const { redis, client } = await setUp(t);
  // Numbers the turns of the event loop, and notes those in which the client wrote to Redis (its
  // socket's bytesWritten grew, which counts what is buffered too): the turns spent waiting for
  // replies do not count, however slow Redis is to answer.
  const toRedis = sockets.filter((socket) => socket.remotePort === redis.port);
  t.equal(toRedis.length, 1, "the client's one connection to Redis was seen");
  const bytesWritten = (): number => toRedis[0]?.bytesWritten ?? 0;
  let turn = 0;
  let counting = true;
  let written = bytesWritten();
  const writeTurns = new Set<number>();
  /** Notes the turn just ended if the client wrote in it. */
  const observe = (): void => {
    const now = bytesWritten();
    if (now > written) writeTurns.add(turn);
    written = now;
  };
  const tick = (): void => {
    turn++;
    observe();
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  const value = "x".repeat(400);
  const replies = await Promise.all(Array.from({ length: 2000 }, (_, i) => client.set(`burst:${i}`, value)));
  counting = false;
  // A quick Redis can answer the whole burst before the first tick: the last turn's writes count too.
  observe();
  t.equal(replies.filter((reply) => reply === "OK").length, 2000, "every command was answered");
  t.ok(
    writeTurns.size > 0 && writeTurns.size <= 10,
    `2,000 commands of about 450 bytes were written in ${writeTurns.size} turns of the event loop`,
  );
});
