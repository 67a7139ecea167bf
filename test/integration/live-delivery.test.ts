import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import type { StreamName } from "../../src/domain/names.js";
import { createLogger } from "../../src/lib/logger.js";
import type { Message } from "../../src/realtime/events.js";
import { createKeys } from "../../src/store/keys.js";
import { closeRedis, connectRedis } from "../../src/store/redis.js";
import { call, inbox, join, send, settle } from "../helpers/clients.js";
import { chatPair } from "../helpers/pair.js";
import type { TestServer } from "../helpers/server.js";

const { redis, a, b, user, connect, twoInRoom } = await chatPair(t);
// Some checks read one Redis server's own state (CLIENT LIST), so this suite needs a standalone one.
const url = redis.env.REDIS_URL;
if (url === undefined) throw new Error("live-delivery runs on a standalone Redis (CHAT_TEST_REDIS unset)");
const keys = createKeys(a.config.redisPrefix);
const raw = await connectRedis({ url, name: "test", log: createLogger("silent") });
t.teardown(() => closeRedis(raw));

const room = () => `#r${randomUUID().slice(0, 8)}` as StreamName;

/** A counter of a server's GET /metrics (the in-process server reports only its own worker). */
async function metric(server: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(" ").at(-1));
}

/** Workers subscribed to a conversation's live channel, as Redis counts them. */
async function subscribers(stream: StreamName): Promise<number> {
  const reply = (await raw.sendCommand(["PUBSUB", "SHARDNUMSUB", keys.live(stream)])) as unknown[];
  return Number(reply[1]);
}

/** Polls Redis until the live channel has `count` subscribers; fails the test after 5 s. */
async function untilSubscribers(stream: StreamName, count: number): Promise<number> {
  let seen = await subscribers(stream);
  for (let i = 0; i < 100 && seen !== count; i++) {
    await sleep(50);
    seen = await subscribers(stream);
  }
  return seen;
}

/** Stores a message in a conversation's stream without publishing it, as a lost publish leaves it. */
function storeSilently(stream: StreamName, from: string, text: string): Promise<string> {
  return raw.xAdd(keys.logOf(stream), "*", { from, text, cid: randomUUID() });
}

const texts = (box: Message[]) => box.map((m) => m.text);

t.test("live delivery > a worker with no member of the conversation > its subscriber receives none of its messages", async (t) => {
  const [alice, carol] = [await user(a), await user(a)];
  await user(b); // b serves a socket, in #general only
  const name = room();
  await join(alice.socket, name);
  await join(carol.socket, name);
  const box = inbox(carol.socket);
  const [aBefore, bBefore] = [await metric(a, "chat_live_messages_received_total"), await metric(b, "chat_live_messages_received_total")];
  for (let i = 0; i < 20; i++) await send(alice.socket, name, `m${i}`);
  await settle(() => box.length >= 20);
  t.equal((await metric(a, "chat_live_messages_received_total")) - aBefore, 20, "worker a heard each message once");
  await send(alice.socket, `@${carol.user}`, "direct");
  await send(alice.socket, `@${carol.user}`, "direct again");
  await settle(() => box.length >= 22);
  t.same(texts(box).slice(20), ["direct", "direct again"], "carol got every message once");
  t.equal(box.length, 22);
  t.equal((await metric(b, "chat_live_messages_received_total")) - bBefore, 0, "worker b heard none");
});

t.test("live delivery > subscriptions > follow joins, leaves, DMs and disconnects", async (t) => {
  const alice = await user(a);
  const bob = await user(b);
  const name = room();
  t.equal(await subscribers(name), 0);
  await join(alice.socket, name);
  t.equal(await untilSubscribers(name, 1), 1, "a subscribes on its first member");
  await join(bob.socket, name);
  t.equal(await untilSubscribers(name, 2), 2, "b subscribes on its first member");
  const bobTab = await connect(b, bob.cookie);
  t.equal(await subscribers(name), 2, "a second member on b changes nothing");
  const left = await call(bob.socket, "room:leave", { room: name });
  t.ok(left.ok);
  t.equal(await untilSubscribers(name, 1), 1, "b unsubscribes once its last member left");

  const pair = [alice.user, bob.user].map((u) => u.toLowerCase()).sort();
  const stream = `@${pair[0]}:@${pair[1]}` as StreamName;
  const bobBox = inbox(bobTab.socket);
  await send(alice.socket, `@${bob.user}`, "first of a new pair");
  t.equal(await untilSubscribers(stream, 2), 2, "a new DM pair is followed on both users' workers");
  await settle(() => bobBox.length >= 1);
  t.same(texts(bobBox), ["first of a new pair"], "the recipient's worker delivered the pair's first message");
  bob.socket.close();
  bobTab.socket.close();
  t.equal(await untilSubscribers(stream, 1), 1, "b drops the pair once the user's last socket is gone");
  alice.socket.close();
  t.equal(await untilSubscribers(stream, 0), 0);
  t.equal(await untilSubscribers(name, 0), 0, "a unsubscribes once its last member disconnected");
});

t.test("live delivery > a lost publish > the next message fills the gap from the stream, each message once, in order", async (t) => {
  const name = room();
  const { alice, bob } = await twoInRoom(name);
  const boxes = [inbox(alice.socket), inbox(bob.socket)];
  const fillsBefore = await metric(b, "chat_live_gap_fills_total");
  await send(alice.socket, name, "one");
  await storeSilently(name, alice.user, "two");
  await send(alice.socket, name, "three");
  await settle(() => boxes.every((box) => box.length >= 3));
  for (const box of boxes) t.same(texts(box), ["one", "two", "three"]);
  t.ok((await metric(b, "chat_live_gap_fills_total")) > fillsBefore, "b filled from the stream");

  // A publish whose predecessor is not what the worker delivered last is a gap too; its repeat is dropped.
  const id = await storeSilently(name, alice.user, "four");
  const payload = `0-1\n${id}\n${alice.user}\n${name}\n${randomUUID()}\n\n\nfour`;
  await raw.sPublish(keys.live(name), payload);
  await raw.sPublish(keys.live(name), payload);
  await settle(() => boxes.every((box) => box.length >= 4), 5000, 300);
  for (const box of boxes) t.same(texts(box), ["one", "two", "three", "four"]);
});

t.test("live delivery > the subscriber connection is killed > what was stored meanwhile is filled once it is back", async (t) => {
  const name = room();
  const { alice, bob } = await twoInRoom(name);
  const boxes = [inbox(alice.socket), inbox(bob.socket)];
  await send(alice.socket, name, "before");
  await settle(() => boxes.every((box) => box.length >= 1));
  const killSubscribers = async (): Promise<number> => {
    const list = (await raw.sendCommand(["CLIENT", "LIST"])) as string;
    const ids = list
      .split("\n")
      .filter((line) => / name=live-sub /.test(line))
      .map((line) => /^id=(\d+)/.exec(line)?.[1] ?? "");
    for (const id of ids) await raw.sendCommand(["CLIENT", "KILL", "ID", id]);
    return ids.length;
  };
  t.equal(await killSubscribers(), 2, "one live subscriber per worker");
  await storeSilently(name, alice.user, "while away");
  // They may have been back before the store: kill them again, so that they come back after it.
  await killSubscribers();
  await settle(() => boxes.every((box) => box.length >= 2), 10_000, 300);
  for (const box of boxes) t.same(texts(box), ["before", "while away"]);
  await send(alice.socket, name, "after");
  await settle(() => boxes.every((box) => box.length >= 3));
  for (const box of boxes) t.same(texts(box), ["before", "while away", "after"]);
});

t.test("live delivery > a DM pair first listed by a user's second socket > the first socket gets it too, once", async (t) => {
  const alice = await user(a);
  const bob = await user(b);
  const aliceBox = inbox(alice.socket);
  // The pair opens without a notice reaching worker a (as when the sender's worker dies right after storing).
  const pair = [alice.user, bob.user].map((u) => u.toLowerCase()).sort();
  const stream = `@${pair[0]}:@${pair[1]}` as StreamName;
  await raw.sAdd(keys.userDirects(alice.user), `@${bob.user}`);
  await raw.sAdd(keys.userDirects(bob.user), `@${alice.user}`);
  await raw.xAdd(keys.logOf(stream), "*", { from: bob.user, text: "unannounced", cid: randomUUID(), to: `@${alice.user}` });
  const tab = await connect(a, alice.cookie, { lastIds: { "#general": "1-0" } });
  t.same(tab.welcome.directs, [`@${bob.user}`]);
  await send(bob.socket, `@${alice.user}`, "live");
  await settle(() => aliceBox.length >= 2 && tab.received.length >= 2);
  t.same(texts(aliceBox), ["unannounced", "live"], "the socket that was there first");
  t.same(texts(tab.received), ["unannounced", "live"], "the socket that listed the pair");
});

t.test("live delivery > a gap trimmed away before it could be filled > the conversation's sockets are sent to catch up", async (t) => {
  const name = room();
  const { alice, bob } = await twoInRoom(name);
  const boxes = [inbox(alice.socket), inbox(bob.socket)];
  const dropped = [alice.socket, bob.socket].map((socket) => new Promise<string>((resolve) => socket.once("disconnect", resolve)));
  await send(alice.socket, name, "one");
  await settle(() => boxes.every((box) => box.length >= 1));
  // Two silent messages, the first trimmed at once: no worker can deliver it any more.
  for (const text of ["two", "three"]) {
    await raw.xAdd(keys.logOf(name), "*", { from: alice.user, text, cid: randomUUID() }, { TRIM: { strategy: "MAXLEN", threshold: 1 } });
  }
  await raw.sPublish(keys.live(name), `0-1\n${await lastId(name)}\n${alice.user}\n${name}\n${randomUUID()}\n\n\nthree`);
  const reasons = await Promise.all(dropped);
  t.same(reasons, ["transport close", "transport close"], "closed as a lost connection, so clients reconnect and catch up");
  for (const box of boxes) t.same(texts(box), ["one"], "nothing after the gap was delivered out of order");
});

async function lastId(stream: StreamName): Promise<string> {
  const last = await raw.xRevRange(keys.logOf(stream), "+", "-", { COUNT: 1 });
  return last?.[0]?.id ?? "0-0";
}
