import { randomUUID } from "node:crypto";
import t from "tap";
import type { ReadState, ReadUpdate } from "../../src/realtime/events.js";
import { type ChatClient, call, join, registerUser, send, settle } from "../helpers/clients.js";
import { chatPair } from "../helpers/pair.js";
import type { TestServer } from "../helpers/server.js";

const { a, b, connect } = await chatPair(t);

async function socketOf(server: TestServer, cookie: string) {
  const { socket } = await connect(server, cookie);
  const updates: ReadUpdate[] = [];
  socket.on("read:update", (update) => updates.push(update));
  return { socket, updates };
}

/** A user with one socket on each worker: two tabs or devices. */
async function user() {
  const { user, cookie } = await registerUser(a.url);
  return { user, cookie, one: await socketOf(a, cookie), two: await socketOf(b, cookie) };
}

async function readState(socket: ChatClient): Promise<ReadState> {
  const ack = await call<ReadState>(socket, "read:fetch", {});
  if (!ack.ok) throw new Error(ack.error.code);
  return ack.data;
}

const room = () => `#m${randomUUID().slice(0, 8)}`;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test("mentions > a member named in a room > counted on both of their sockets, cleared for both by a read on one", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const name = room();
  await join(alice.one.socket, name);
  await join(bob.one.socket, name);
  const sent = await send(alice.one.socket, name, `hi @${bob.user.toUpperCase()}, and @${bob.user} again`);
  await settle(() => bob.one.updates.length >= 1 && bob.two.updates.length >= 1);
  for (const tab of [bob.one, bob.two]) t.same(tab.updates, [{ conversation: name, mentions: 1 }], "one mention per message");
  t.same(alice.one.updates, [], "the sender is told nothing");
  t.same((await readState(bob.two.socket)).mentions, { [name]: 1 });

  const second = await send(alice.one.socket, name, `@${bob.user} once more`);
  await settle(() => bob.two.updates.length >= 2);
  t.same(bob.two.updates[1], { conversation: name, mentions: 2 });

  const ack = await call(bob.one.socket, "conversation:read", { conversation: name, lastId: second.id });
  t.same(ack, { ok: true, data: { conversation: name, lastId: second.id, mentions: 0 } });
  await settle(() => bob.two.updates.length >= 3);
  t.same(bob.two.updates[2], { conversation: name, lastId: second.id, mentions: 0 }, "the other device clears");
  t.equal(bob.one.updates.length, 2, "the reading socket is not told its own read");
  const state = await readState(bob.one.socket);
  t.same(state, { markers: { [name]: second.id }, mentions: {} });

  // Another device reports an older read late: the marker does not move back.
  const late = await call(bob.two.socket, "conversation:read", { conversation: name, lastId: sent.id });
  t.same(late, { ok: true, data: { conversation: name, lastId: second.id, mentions: 0 } });
});

t.test("mentions > a read that does not reach the newest mention > the count stays", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const name = room();
  await join(alice.one.socket, name);
  await join(bob.one.socket, name);
  const before = await send(alice.one.socket, name, "no mention yet");
  await send(alice.one.socket, name, `@${bob.user} look`);
  await settle(() => bob.one.updates.length >= 1);
  const ack = await call(bob.one.socket, "conversation:read", { conversation: name, lastId: before.id });
  t.same(ack, { ok: true, data: { conversation: name, lastId: before.id, mentions: 1 } });
});

t.test("mentions > non-members, the sender and unknown names > not counted", async (t) => {
  const [alice, bob, carol] = [await user(), await user(), await user()];
  const name = room();
  await join(alice.one.socket, name);
  await join(bob.one.socket, name);
  await send(alice.one.socket, name, `@${carol.user} @${alice.user} @nosuchuser${randomUUID().slice(0, 6)}`);
  await send(alice.one.socket, `@${bob.user}`, `in a DM, @${carol.user} is not there`);
  await send(alice.one.socket, name, `@${bob.user} is`);
  await settle(() => bob.one.updates.length >= 1);
  t.same(bob.one.updates, [{ conversation: name, mentions: 1 }]);
  await pause(200);
  t.same(carol.one.updates, [], "carol is in neither conversation");
  t.same(alice.one.updates, [], "mentioning yourself counts nothing");
  t.same((await readState(carol.one.socket)).mentions, {});
});

t.test("mentions > the peer named in a DM > counted under @sender, cleared by reading the DM", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const dm = await send(alice.one.socket, `@${bob.user}`, `@${bob.user} ping`);
  await settle(() => bob.one.updates.length >= 1 && bob.two.updates.length >= 1);
  t.same(bob.two.updates, [{ conversation: `@${alice.user}`, mentions: 1 }]);
  t.same((await readState(bob.one.socket)).mentions, { [`@${alice.user.toLowerCase()}`]: 1 });
  const ack = await call(bob.two.socket, "conversation:read", { conversation: `@${alice.user.toUpperCase()}`, lastId: dm.id });
  t.same(ack, { ok: true, data: { conversation: `@${alice.user}`, lastId: dm.id, mentions: 0 } });
  await settle(() => bob.one.updates.length >= 2);
  t.same(bob.one.updates[1], { conversation: `@${alice.user}`, lastId: dm.id, mentions: 0 });
  t.same(await readState(bob.one.socket), { markers: { [`@${alice.user.toLowerCase()}`]: dm.id }, mentions: {} });
});

t.test("conversation:read > bad input > a clear error, nothing stored", async (t) => {
  const alice = await user();
  const cases: [unknown, string][] = [
    ["nope", "E_INVALID"],
    [{ conversation: "#general" }, "E_INVALID"],
    [{ conversation: "#general", lastId: "12" }, "E_INVALID"],
    [{ conversation: "general", lastId: "1-0" }, "E_INVALID"],
    [{ conversation: room(), lastId: "1-0" }, "E_FORBIDDEN"],
    [{ conversation: `@nosuchuser${randomUUID().slice(0, 6)}`, lastId: "1-0" }, "E_NOT_FOUND"],
  ];
  for (const [payload, code] of cases) {
    const ack = await call(alice.one.socket, "conversation:read", payload);
    t.equal(ack.ok ? "ok" : ack.error.code, code, JSON.stringify(payload).slice(0, 60));
  }
  t.same(await readState(alice.one.socket), { markers: {}, mentions: {} });
  t.same(alice.two.updates, []);
});
