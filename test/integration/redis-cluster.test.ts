import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { loadConfig } from "../../src/config.js";
import { streamOf } from "../../src/domain/names.js";
import { createLogger } from "../../src/lib/logger.js";
import type { Message, ReadState, SearchResult } from "../../src/realtime/events.js";
import { createKeys } from "../../src/store/keys.js";
import { connectRedisClients, isRedisUnavailable } from "../../src/store/redis.js";
import { api, call, join, PASSWORD, registerUser, send, settle } from "../helpers/clients.js";
import { serverPair } from "../helpers/pair.js";
import { startRedisCluster } from "../helpers/redis-cluster.js";
import { until } from "../helpers/until.js";

const cluster = await startRedisCluster();
t.teardown(() => cluster.stop());
const { a, b, user, connect: open } = await serverPair(t, { env: { REDIS_CLUSTER_NODES: cluster.nodeList } }, { LOGIN_RATE: "3" });
const keys = createKeys(a.config.redisPrefix);

const slotOf = async (key: string): Promise<number> =>
  Number(await cluster.command(cluster.nodes[0]?.port ?? 0, ["CLUSTER", "KEYSLOT", key]));

t.test("keys > one conversation, one user, one address > each group in one hash slot", async (t) => {
  const room = streamOf("#general", "ann");
  const direct = streamOf("@bob", "ann");
  for (const stream of [room, direct]) {
    const slots = new Set(await Promise.all([keys.logOf(stream), keys.dedupe(stream, "ann", "c1"), keys.live(stream)].map(slotOf)));
    t.equal(slots.size, 1, `log, dedupe and live channel of ${stream} share a slot`);
  }
  t.equal(new Set(await Promise.all([keys.readMarkers("ann"), keys.mentionCounts("ann")].map(slotOf))).size, 1, "read state");
  t.equal(
    new Set(await Promise.all([keys.loginAttempts("10.1.2.3", "ann"), keys.loginAddress("10.1.2.3")].map(slotOf))).size,
    1,
    "login limits",
  );
  const presence = [keys.presenceOnline, keys.presenceWorkers, keys.presenceWorker("host/1#a"), keys.presenceWorker("host/2#b")];
  t.equal(new Set(await Promise.all(presence.map(slotOf))).size, 1, "presence");
  t.not(await slotOf(keys.logOf(room)), await slotOf(keys.logOf(direct)), "two conversations may live on different shards");
});

t.test("chat on a cluster > two workers > rooms, DMs, history, catch-up, read state and search work", async (t) => {
  const [ann, bob] = [await user(a), await user(b)];
  const rooms = Array.from({ length: 6 }, () => `#c${randomUUID().slice(0, 8)}`);
  for (const room of rooms) {
    await join(ann.socket, room);
    await join(bob.socket, room);
  }
  const masters = new Set(await Promise.all(rooms.map((room) => cluster.masterOf(keys.logOf(streamOf(room as `#${string}`, ann.user))))));
  t.ok(masters.size >= 2, `the rooms' streams are spread over ${masters.size} masters`);

  const word = `w${randomUUID().slice(0, 8)}`;
  const sent: string[] = [];
  for (const room of rooms) sent.push((await send(ann.socket, room, `${word} in ${room}`)).id);
  const dm = await send(bob.socket, `@${ann.user}`, `${word} direct`);
  await settle(() => bob.received.filter((m) => m.text.startsWith(word)).length === rooms.length + 1);
  await settle(() => ann.received.filter((m) => m.text.startsWith(word)).length === rooms.length + 1);
  t.same(
    bob.received.filter((m) => m.text.startsWith(word) && m.conversation !== `@${ann.user}`).map((m) => m.id),
    sent,
    "bob, on the other worker, got each room message once",
  );
  t.ok(
    ann.received.some((m) => m.id === dm.id && m.conversation === `@${bob.user}`),
    "the DM reached ann, named after its sender",
  );

  const history = await call<{ messages: Message[] }>(ann.socket, "history:fetch", { conversation: rooms[0] });
  t.same(history.ok && history.data.messages.map((m) => m.id), [sent[0]], "history");

  // Bob comes back with the ids he had before the last two rooms' messages: he gets exactly those.
  bob.socket.close();
  const lastIds: Record<string, string> = {};
  for (const room of rooms) lastIds[room] = "0-0";
  const back = await open(b, bob.cookie, { lastIds });
  await settle(() => back.received.filter((m) => m.text.startsWith(word) && m.conversation.startsWith("#")).length === rooms.length);
  t.same(
    back.received
      .filter((m) => m.text.startsWith(word) && m.conversation.startsWith("#"))
      .map((m) => m.id)
      .sort(),
    [...sent].sort(),
    "catch-up by lastIds replays every room, once each",
  );
  t.same(back.welcome.rooms.filter((room) => rooms.includes(room)).sort(), [...rooms].sort(), "memberships survive the reconnect");

  const read = await call(ann.socket, "conversation:read", { conversation: `@${bob.user}`, lastId: dm.id });
  t.ok(read.ok, "read marker stored");
  const state = await call<ReadState>(ann.socket, "read:fetch", {});
  t.equal(state.ok && state.data.markers[`@${bob.user.toLowerCase()}`], dm.id, "read state fetched back");

  const found = await call<SearchResult>(ann.socket, "search", { query: word });
  t.equal(found.ok && found.data.messages.length, rooms.length + 1, "search finds every message over every shard");

  const list = await call<{ rooms: { room: string; members: number }[] }>(ann.socket, "rooms:list", { limit: 1000 });
  t.same(list.ok && list.data.rooms.find((r) => r.room === rooms[0]), { room: rooms[0], members: 2 }, "rooms:list");
  const left = await call(ann.socket, "room:leave", { room: rooms[1] });
  t.ok(left.ok, "leave");
});

t.test("login limits on a cluster > wrong passwords > 429 for this name, others unaffected", async (t) => {
  const { user } = await registerUser(a.url);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await api(b.url, "/api/login", { username: user, password: "wrong password!" })).status);
  t.equal(statuses.at(-1), 429, `limited after the free attempts (${statuses.join(",")})`);
  const other = await registerUser(a.url);
  t.equal((await api(b.url, "/api/login", { username: other.user, password: PASSWORD })).status, 200, "another name logs in");
});

// Last in this file: it kills a master of the suite's cluster, which no test after it needs whole.
t.test("redis clients on a cluster > a master killed > its keys fail fast, then work on the promoted replica", async (t) => {
  const own = cluster;
  const { redisCluster } = loadConfig({ REDIS_CLUSTER_NODES: own.nodeList });
  if (!redisCluster) throw new Error("no cluster config");
  const clients = await connectRedisClients({ cluster: redisCluster }, createLogger("silent", "worker"));
  t.teardown(() => clients.close());
  const heard: string[] = [];
  await clients.live.client.sSubscribe("ha:{k}:live", (message) => heard.push(message));
  let restored = 0;
  clients.live.onRestored(() => restored++);
  await clients.main.set("ha:{k}", "before");
  t.equal(await (await clients.placement.nodeFor("ha:{k}")).wait(1, 1000), 1, "a replica confirms the write (WAIT)");

  const port = await own.masterOf("ha:{k}");
  const master = own.nodes.find((node) => node.port === port);
  if (!master) throw new Error("no master");
  await master.kill();
  await clients.main.get("ha:{k}").catch(() => undefined);
  const started = Date.now();
  const refused = await clients.main.get("ha:{k}").then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(isRedisUnavailable(refused), "a command for the dead master's slot fails as an outage (E_UNAVAILABLE)");
  t.ok(Date.now() - started < 1000, `and fails fast (${Date.now() - started} ms)`);

  let value: string | null = null;
  for (let i = 0; i < 200 && value === null; i++) {
    value = await clients.main.get("ha:{k}").catch(() => null);
    if (value === null) await sleep(100);
  }
  t.equal(value, "before", "the acknowledged write is on the promoted replica");
  t.not(await own.masterOf("ha:{k}"), port, "the replica was promoted");
  await until(() => restored > 0, "the live subscriber is told that it is back");
  for (let i = 0; i < 100 && !heard.includes("after"); i++) {
    await clients.main.sPublish("ha:{k}:live", "after").catch(() => 0);
    await sleep(100);
  }
  t.ok(heard.includes("after"), "the sharded subscription moved to the new master");
});
