import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import t, { type Test } from "tap";
import { compareIds } from "../../src/domain/stream-ids.js";
import type { Message } from "../../src/realtime/events.js";
import { call, connect, inbox, join, presenceLog, registerUser, send, settle } from "../helpers/clients.js";
import { chatPair, serverPair } from "../helpers/pair.js";
import { startServer } from "../helpers/server.js";

const { redis, a, b, user, connect: open, twoInRoom } = await chatPair(t, { HISTORY_LIMIT: "10", CATCHUP_MAX: "5", HISTORY_PAGE: "5" });

const room = () => `#r${randomUUID().slice(0, 8)}`;

/** Alice (on server a) and Bob (on server b) in a fresh room. */
async function pairInRoom() {
  const name = room();
  return { ...(await twoInRoom(name)), name };
}

t.test("room:join > new room > created, joined, empty history; rooms:list counts members", async (t) => {
  const alice = await user();
  const bob = await user(b);
  const name = room();
  t.same(await join(alice.socket, name), { room: name, history: [], private: false });
  await join(bob.socket, name.toUpperCase());
  const list = await call<{ rooms: { room: string; members: number }[] }>(alice.socket, "rooms:list", {});
  t.ok(list.ok);
  if (list.ok)
    t.same(
      list.data.rooms.find((r) => r.room === name),
      { room: name, members: 2 },
    );
});

t.test("message:send > room across workers > every member gets it once, sender's id in the ack", async (t) => {
  const alice = await user(a);
  const bob = await user(b);
  const carol = await user(b);
  const name = room();
  for (const u of [alice, bob, carol]) await join(u.socket, name);
  const boxes = [alice, bob, carol].map((u) => inbox(u.socket));
  const ack = await send(alice.socket, name, "  hello room  ");
  await settle(() => boxes.every((box) => box.length >= 1));
  for (const box of boxes) {
    t.equal(box.length, 1);
    t.match(box[0], { id: ack.id, conversation: name, from: alice.user, text: "hello room", ts: ack.ts });
  }
});

t.test("room:leave > after leaving > no more messages; #general cannot be left", async (t) => {
  const { alice, bob, name } = await pairInRoom();
  t.same(await call(bob.socket, "room:leave", { room: name }), { ok: true, data: {} });
  const box = inbox(bob.socket);
  await send(alice.socket, name, "after leave");
  await new Promise((r) => setTimeout(r, 200));
  t.same(
    box.map((m) => `${m.conversation}: ${m.text}`),
    [],
    "nothing from the room left",
  );
  const general = await call(bob.socket, "room:leave", { room: "#general" });
  t.match(general, { ok: false, error: { code: "E_FORBIDDEN" } });
  const notMember = await call(bob.socket, "message:send", { to: name, text: "hi", clientId: randomUUID() });
  t.match(notMember, { ok: false, error: { code: "E_FORBIDDEN" } });
});

t.test("room:join and room:leave > the user's other tab on another worker > told, and follows the room live", async (t) => {
  const alice = await user(a);
  const other = await open(b, alice.cookie);
  const told: string[] = [];
  other.socket.on("room:joined", ({ room }) => told.push(`joined ${room}`));
  other.socket.on("room:left", ({ room }) => told.push(`left ${room}`));
  const box = inbox(other.socket);
  const name = room();
  await join(alice.socket, name);
  await settle(() => told.length >= 1);
  t.same(told, [`joined ${name}`], "told once, right after the join");
  // Following the room's channel may take a moment after the notice: sent until one arrives.
  const bob = await user(a);
  await join(bob.socket, name);
  for (let i = 0; i < 50 && box.length === 0; i++) {
    await send(bob.socket, name, `live ${i}`);
    await settle(() => box.length > 0, 100, 0).catch(() => undefined);
  }
  t.ok(box.length > 0, "the other tab gets the room's messages");
  t.same(await call(alice.socket, "room:leave", { room: name }), { ok: true, data: {} });
  await settle(() => told.length >= 2);
  t.same(told, [`joined ${name}`, `left ${name}`], "told once of the leave");
  const before = box.length;
  await send(bob.socket, name, "after leave");
  await sleep(200);
  t.equal(box.length, before, "nothing more from the room left");
});

t.test("room membership > reconnect to another worker > rooms rejoined without asking", async (t) => {
  const alice = await user(a);
  const name = room();
  await join(alice.socket, name);
  alice.socket.close();
  const again = await open(b, alice.cookie);
  t.same(again.welcome.rooms.sort(), ["#general", name].sort());
});

t.test("history:fetch > pages backwards and forwards > ascending pages, limit capped", async (t) => {
  const alice = await user();
  const name = room();
  await join(alice.socket, name);
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) ids.push((await send(alice.socket, name, `m${i}`)).id);
  const latest = await call<{ messages: Message[] }>(alice.socket, "history:fetch", { conversation: name });
  t.same(latest.ok && latest.data.messages.map((m) => m.text), ["m3", "m4", "m5", "m6", "m7"]);
  const older = await call<{ messages: Message[] }>(alice.socket, "history:fetch", { conversation: name, before: ids[3], limit: 2 });
  t.same(older.ok && older.data.messages.map((m) => m.text), ["m1", "m2"]);
  const newer = await call<{ messages: Message[] }>(alice.socket, "history:fetch", { conversation: name, after: ids[5], limit: 1000 });
  t.same(newer.ok && newer.data.messages.map((m) => m.text), ["m6", "m7"]);
  const joined = await join(alice.socket, name);
  t.same(
    joined.history.map((m) => m.text),
    ["m3", "m4", "m5", "m6", "m7"],
    "join answers the latest page",
  );
});

t.test("direct message > to a user with two tabs on two workers > every tab of both users, once each", async (t) => {
  const alice = await user(a);
  const bob = await user(b);
  const bobTab2 = await open(a, bob.cookie);
  const aliceTab2 = await open(b, alice.cookie);
  const boxes = {
    bob1: inbox(bob.socket),
    bob2: inbox(bobTab2.socket),
    alice1: inbox(alice.socket),
    alice2: inbox(aliceTab2.socket),
  };
  const ack = await send(alice.socket, `@${bob.user.toUpperCase()}`, "psst");
  await settle(() => Object.values(boxes).every((box) => box.length >= 1));
  for (const box of [boxes.bob1, boxes.bob2])
    t.same(
      box.map((m) => [m.id, m.conversation]),
      [[ack.id, `@${alice.user}`]],
    );
  for (const box of [boxes.alice1, boxes.alice2])
    t.same(
      box.map((m) => [m.id, m.conversation]),
      [[ack.id, `@${bob.user}`]],
    );
  const history = await call<{ messages: Message[] }>(bob.socket, "history:fetch", { conversation: `@${alice.user}` });
  t.same(history.ok && history.data.messages.map((m) => m.text), ["psst"], "one stream per pair");
  const again = await open(a, bob.cookie);
  t.same(again.welcome.directs, [`@${alice.user}`]);
});

t.test("direct message > unknown user > E_NOT_FOUND", async (t) => {
  const alice = await user();
  const reply = await call(alice.socket, "message:send", { to: "@nobody-here-x", text: "hi", clientId: randomUUID() });
  t.match(reply, { ok: false, error: { code: "E_NOT_FOUND" } });
});

t.test("message:send > same clientId twice > stored once, same id, delivered once", async (t) => {
  const { alice, bob, name } = await pairInRoom();
  const box = inbox(bob.socket);
  const clientId = randomUUID();
  const first = await send(alice.socket, name, "once", clientId);
  const second = await send(alice.socket, name, "once", clientId);
  t.same(second, first);
  await settle(() => box.length >= 1, 5000, 300);
  t.equal(box.length, 1);
  const history = await call<{ messages: Message[] }>(alice.socket, "history:fetch", { conversation: name });
  t.equal(history.ok && history.data.messages.length, 1);
});

t.test("catch-up > reconnect with lastIds > exactly the missed messages, in order, before live ones", async (t) => {
  const { alice, bob, name } = await pairInRoom();
  const seen = await send(alice.socket, name, "seen");
  bob.socket.close();
  const missed = [];
  for (let i = 0; i < 3; i++) missed.push(await send(alice.socket, name, `missed${i}`));
  const dm = await send(alice.socket, `@${bob.user}`, "dm while away");

  const { received: box } = await open(a, bob.cookie, { lastIds: { [name]: seen.id } });
  const live = await send(alice.socket, name, "live");
  await settle(() => box.length >= 5);
  const inRoom = box.filter((m) => m.conversation === name).map((m) => m.id);
  t.same(inRoom, [...missed.map((m) => m.id), live.id], "missed then live, each once, in order");
  t.same(
    box.filter((m) => m.conversation === `@${alice.user}`).map((m) => m.id),
    [dm.id],
    "a DM that began while away is replayed",
  );
});

t.test("catch-up > more missed than CATCHUP_MAX > history:truncated with the latest page", async (t) => {
  const { alice, bob, name } = await pairInRoom();
  const seen = await send(alice.socket, name, "seen");
  bob.socket.close();
  for (let i = 0; i < 12; i++) await send(alice.socket, name, `n${i}`);
  const { socket } = await open(b, bob.cookie, { lastIds: { [name]: seen.id } });
  const truncated = await new Promise<{ conversation: string; messages: Message[] }>((resolve) =>
    socket.once("history:truncated", resolve),
  );
  t.equal(truncated.conversation, name);
  t.same(
    truncated.messages.map((m) => m.text),
    ["n7", "n8", "n9", "n10", "n11"],
  );
});

t.test("validation > every bad payload > its error code, never a crash", async (t) => {
  const alice = await user();
  const cases: [string, unknown, string][] = [
    ["message:send", null, "E_INVALID"],
    ["message:send", "text", "E_INVALID"],
    ["message:send", { to: "#general", text: "", clientId: randomUUID() }, "E_INVALID"],
    ["message:send", { to: "#general", text: "   ", clientId: randomUUID() }, "E_INVALID"],
    ["message:send", { to: "#general", text: 5, clientId: randomUUID() }, "E_INVALID"],
    ["message:send", { to: "#general", text: "x".repeat(2001), clientId: randomUUID() }, "E_TOO_LONG"],
    ["message:send", { to: "#general", text: "é".repeat(4097), clientId: randomUUID() }, "E_TOO_LONG"],
    ["message:send", { to: "#general", text: "hi", clientId: "short" }, "E_INVALID"],
    ["message:send", { to: "general", text: "hi", clientId: randomUUID() }, "E_INVALID"],
    ["message:send", { to: { $gt: "" }, text: "hi", clientId: randomUUID() }, "E_INVALID"],
    ["room:join", { room: "#bad name" }, "E_INVALID"],
    ["room:join", { room: `#${"x".repeat(33)}` }, "E_INVALID"],
    ["room:join", [], "E_INVALID"],
    ["history:fetch", { conversation: "#general", before: "nope" }, "E_INVALID"],
    ["history:fetch", { conversation: "#general", before: "1-0", after: "1-0" }, "E_INVALID"],
    ["history:fetch", { conversation: "#general", limit: -1 }, "E_INVALID"],
    ["history:fetch", { conversation: "#elsewhere" }, "E_FORBIDDEN"],
  ];
  for (const [event, payload, code] of cases) {
    const reply = await call(alice.socket, event, payload);
    t.match(reply, { ok: false, error: { code } }, `${event} ${JSON.stringify(payload)?.slice(0, 60)}`);
  }
  const still = await send(alice.socket, "#general", "still alive");
  t.ok(still.id, "the socket and worker survived");
});

t.test("validation > an event the server does not know > E_INVALID, whatever its name", async (t) => {
  const alice = await user();
  for (const event of ["room:destroy", "__proto__", "constructor", "toString", "hasOwnProperty"]) {
    t.match(await call(alice.socket, event, {}), { ok: false, error: { code: "E_INVALID", message: `unknown event ${event}` } }, event);
  }
  const still = await send(alice.socket, "#general", "still alive");
  t.ok(still.id, "the socket and worker survived");
});

t.test("rate limit > one user's two sockets on two workers > share one budget", async (t) => {
  const strictA = await startServer(redis, { SEND_RATE: "1", SEND_BURST: "3" });
  const strictB = await startServer(redis, { REDIS_PREFIX: strictA.config.redisPrefix, SEND_RATE: "1", SEND_BURST: "3" });
  t.teardown(async () => {
    await strictA.stop();
    await strictB.stop();
  });
  const { cookie } = await registerUser(strictA.url);
  const one = await open(strictA, cookie);
  const two = await open(strictB, cookie);
  const replies = [];
  for (let i = 0; i < 6; i++) {
    const socket = i % 2 === 0 ? one.socket : two.socket;
    replies.push(await call(socket, "message:send", { to: "#general", text: `r${i}`, clientId: randomUUID() }));
  }
  t.equal(replies.filter((r) => r.ok).length, 3, "the burst is shared");
  t.match(replies.at(-1), { ok: false, error: { code: "E_RATE_LIMITED" } });
});

t.test("rate limit > a burst sent at once > the budget holds within one batch, refills at the rate, and a retry is free", async (t) => {
  const strict = await startServer(redis, { SEND_RATE: "2", SEND_BURST: "3" });
  t.teardown(() => strict.stop());
  const { cookie } = await registerUser(strict.url);
  const { socket } = await open(strict, cookie);
  const clientIds = Array.from({ length: 5 }, () => randomUUID());
  // Sent in one go, so the server stores them in one script run.
  const replies = await Promise.all(
    clientIds.map((clientId, i) => call(socket, "message:send", { to: "#general", text: `b${i}`, clientId })),
  );
  t.equal(replies.filter((r) => r.ok).length, 3, "the burst, and no more");
  const refused = replies.find((r) => !r.ok);
  t.match(refused, { ok: false, error: { code: "E_RATE_LIMITED" } });
  const first = replies[0];
  const retry = await call(socket, "message:send", { to: "#general", text: "b0", clientId: clientIds[0] as string });
  t.same(retry, first, "a retry of a stored message gets its id again, even while limited");
  await sleep(600);
  const refilled = await call(socket, "message:send", { to: "#general", text: "after", clientId: randomUUID() });
  t.ok(refilled.ok, "one more after 1/rate seconds");
  const again = await call(socket, "message:send", { to: "#general", text: "too soon", clientId: randomUUID() });
  t.match(again, { ok: false, error: { code: "E_RATE_LIMITED" } });
});

t.test("presence > first tab opens and last tab closes > one update each, across workers", async (t) => {
  const watcher = await user(a);
  const updates = presenceLog(watcher.socket);
  const { user: name, cookie } = await registerUser(a.url);
  const tab1 = await connect(a.url, cookie);
  const tab2 = await connect(b.url, cookie);
  await settle(() => updates.some((u) => u.user === name), 3000, 300);
  const list = await call<{ users: string[] }>(watcher.socket, "presence:list", {});
  t.ok(list.ok && list.data.users.includes(name));
  tab1.socket.close();
  await new Promise((r) => setTimeout(r, 300));
  t.same(
    updates.filter((u) => u.user === name).map((u) => u.online),
    [true],
    "closing one of two tabs changes nothing",
  );
  tab2.socket.close();
  await settle(() => updates.filter((u) => u.user === name).length >= 2, 3000, 300);
  t.same(
    updates.filter((u) => u.user === name).map((u) => u.online),
    [true, false],
  );
});

t.test("presence > many users come and go at once > a few batched broadcasts, each telling the truth", async (t) => {
  const watcher = await user(a);
  const updates = presenceLog(watcher.socket);
  const crowd = await Promise.all(Array.from({ length: 30 }, () => registerUser(a.url)));
  const names = new Set(crowd.map((c) => c.user));
  const tabs = await Promise.all(crowd.map((c, i) => connect(i % 2 === 0 ? a.url : b.url, c.cookie)));
  const about = () => updates.filter((u) => names.has(u.user));
  await settle(
    () =>
      new Set(
        about()
          .filter((u) => u.online)
          .map((u) => u.user),
      ).size === names.size,
    5000,
    600,
  );
  t.ok(
    about().every((u) => u.online),
    "all announced online, none offline",
  );
  t.ok(
    about().some((u) => u.batch > 1),
    "gathered into batches",
  );
  t.ok(about().length <= 2 * names.size, `${about().length} announcements for ${names.size} users (each worker may tell once)`);
  updates.length = 0;
  for (const tab of tabs) tab.socket.close();
  await settle(
    () =>
      new Set(
        about()
          .filter((u) => !u.online)
          .map((u) => u.user),
      ).size === names.size,
    5000,
    600,
  );
  t.ok(
    about().every((u) => !u.online),
    "all announced offline",
  );
  const list = await call<{ users: string[] }>(watcher.socket, "presence:list", {});
  t.ok(list.ok && list.data.users.every((u) => !names.has(u)), "presence:list agrees");
});

t.test("typing > in a room > other members get it, the typist does not", async (t) => {
  const { alice, bob, name } = await pairInRoom();
  const got: unknown[] = [];
  const self: unknown[] = [];
  bob.socket.on("typing", (e) => got.push(e));
  alice.socket.on("typing", (e) => self.push(e));
  alice.socket.emit("typing", { to: name });
  await settle(() => got.length >= 1);
  t.same(got, [{ conversation: name, user: alice.user }]);
  t.same(self, []);
});

t.test("typing > a DM across workers > the peer's tabs get it named after the typist, the typist's do not", async (t) => {
  const alice = await user(a);
  const bob = await user(b);
  const got: unknown[] = [];
  const self: unknown[] = [];
  bob.socket.on("typing", (e) => got.push(e));
  alice.socket.on("typing", (e) => self.push(e));
  alice.socket.emit("typing", { to: `@${bob.user}` });
  await settle(() => got.length >= 1);
  t.same(got, [{ conversation: `@${alice.user}`, user: alice.user }]);
  t.same(self, []);
});

t.test("presence > #general above PRESENCE_ROOM_MAX > heard only by those who share a small room or a DM", async (t) => {
  const pair = await serverPair(t, redis, { PRESENCE_ROOM_MAX: "2" });
  const alice = await pair.user(pair.a);
  const [bob, erin, dave] = await Promise.all([registerUser(pair.b.url), registerUser(pair.b.url), registerUser(pair.b.url)]);
  // #general has four members now, above the limit: it carries no presence.
  const name = room();
  await join(alice.socket, name);
  const first = await pair.connect(pair.b, bob.cookie);
  await join(first.socket, name);
  first.socket.close();
  await send(alice.socket, `@${erin.user}`, "hello");
  const updates = presenceLog(alice.socket);
  const last = (user: string) => updates.filter((u) => u.user === user).at(-1)?.online;
  const tabs = await Promise.all([bob, erin, dave].map((u) => pair.connect(pair.b, u.cookie)));
  await settle(() => last(bob.user) === true && last(erin.user) === true, 5000, 1200);
  t.same(
    updates.filter((u) => u.user === dave.user),
    [],
    "nothing of a user met only in #general",
  );
  const list = await call<{ users: string[] }>(alice.socket, "presence:list", {});
  t.same(list.ok && list.data.users, [alice.user, bob.user, erin.user].sort(), "presence:list names the same circle");
  for (const tab of tabs) tab.socket.close();
  await settle(() => last(bob.user) === false && last(erin.user) === false, 5000, 1200);
  t.same(
    updates.filter((u) => u.user === dave.user),
    [],
    "nor of their leaving",
  );
});

t.test("catch-up > reconnecting repeatedly while messages stream > no duplicate, no gap, in order", async (t) => {
  // Default history limits here: the suite's servers trim at 10 messages.
  const a = await startServer(redis);
  const b = await startServer(redis, { REDIS_PREFIX: a.config.redisPrefix });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  const sender = await user(a);
  const { cookie } = await registerUser(a.url);
  let streaming = true;
  const stream = (async () => {
    while (streaming) {
      sender.socket.emit("message:send", { to: "#general", text: "tick", clientId: randomUUID() }, () => undefined);
      await new Promise((r) => setTimeout(r, 3));
    }
  })();
  const all: string[] = [];
  let lastId: string | undefined;
  for (let round = 0; round < 12; round++) {
    const server = round % 2 === 0 ? a : b;
    const { socket, received } = await connect(server.url, cookie, lastId ? { lastIds: { "#general": lastId } } : {});
    await new Promise((r) => setTimeout(r, 150));
    socket.close();
    const ids = received.filter((m) => m.conversation === "#general").map((m) => m.id);
    all.push(...ids);
    lastId = ids.at(-1) ?? lastId;
  }
  streaming = false;
  await stream;
  t.equal(new Set(all).size, all.length, "no message twice");
  t.ok(
    all.every((id, i) => i === 0 || compareIds(all[i - 1] as string, id) < 0),
    "strictly increasing across reconnects",
  );
  const expected: string[] = [];
  let after = all[0] as string;
  while (compareIds(after, lastId as string) < 0) {
    const page = await call<{ messages: Message[] }>(sender.socket, "history:fetch", { conversation: "#general", after, limit: 200 });
    const ids = page.ok ? page.data.messages.map((m) => m.id) : [];
    if (ids.length === 0) break;
    expected.push(...ids.filter((id) => compareIds(id, lastId as string) <= 0));
    after = ids.at(-1) as string;
  }
  t.ok(all.length > 100, `${all.length} messages over 12 reconnects`);
  t.same(all.slice(1), expected, "no gap: exactly what was stored");
});

t.test("overload > more sends in flight than SEND_MAX_IN_FLIGHT > the excess is refused at once and counted", async (t) => {
  const tight = await startServer(redis, { SEND_MAX_IN_FLIGHT: "2" });
  t.teardown(() => tight.stop());
  const { cookie } = await registerUser(tight.url);
  const { socket } = await open(tight, cookie);
  const replies = await Promise.all(
    Array.from({ length: 40 }, (_, i) => call(socket, "message:send", { to: "#general", text: `burst ${i}`, clientId: randomUUID() })),
  );
  const shed = replies.filter((r) => !r.ok && r.error.code === "E_RATE_LIMITED").length;
  t.ok(shed > 0, `${shed} of 40 shed`);
  t.equal(replies.filter((r) => r.ok).length + shed, 40, "every send answered: stored or refused");
  const metrics = await (await fetch(`${tight.url}/metrics`)).text();
  t.match(metrics, new RegExp(`chat_sends_shed_total\\{worker="\\d+"\\} ${shed}\\b`));
});

/** A worker that will stop, one that stays, a watcher on the one that stays, and a user to watch. */
async function stoppingAndStaying(t: Test) {
  const stopping = await startServer(redis);
  const staying = await startServer(redis, { REDIS_PREFIX: stopping.config.redisPrefix });
  t.teardown(() => staying.stop());
  const watcher = await registerUser(staying.url);
  const watching = await connect(staying.url, watcher.cookie);
  const { user: name, cookie } = await registerUser(staying.url);
  return { stopping, staying, watching, name, cookie };
}

t.test("presence > a worker stops > its users are announced offline on the other workers", async (t) => {
  const { stopping, watching, name, cookie } = await stoppingAndStaying(t);
  const updates = presenceLog(watching.socket);
  const tab = await connect(stopping.url, cookie);
  t.teardown(() => {
    watching.socket.close();
    tab.socket.close();
  });
  // Each worker tells only its own sockets: both news reach the watcher through the worker it is on.
  await settle(() => updates.some((u) => u.user === name && u.online), 3000, 0);
  await stopping.stop();
  await settle(() => updates.some((u) => u.user === name && !u.online), 5000, 300);
  t.same(
    updates.filter((u) => u.user === name).map((u) => u.online),
    [true, false],
    "online when the tab opened, offline once its worker left",
  );
});

t.test("presence > a worker stops while the user has a tab on another > still online", async (t) => {
  const { stopping, staying, watching, name, cookie } = await stoppingAndStaying(t);
  const tabs = await Promise.all([connect(stopping.url, cookie), connect(stopping.url, cookie), connect(staying.url, cookie)]);
  t.teardown(() => {
    for (const socket of [watching.socket, ...tabs.map((tab) => tab.socket)]) socket.close();
  });
  const online = async () => {
    const list = await call<{ users: string[] }>(watching.socket, "presence:list", {});
    return list.ok && list.data.users.includes(name);
  };
  await settle(() => true, 0, 300);
  t.ok(await online(), "online with three tabs");
  // The stopping worker's tabs disconnect as it drains, racing its departure from presence.
  await stopping.stop();
  await settle(() => true, 0, 500);
  t.ok(await online(), "the tab on the other worker keeps the user online");
  tabs[2]?.socket.close();
  await settle(() => true, 0, 500);
  t.notOk(await online(), "offline once the last tab closes");
});
