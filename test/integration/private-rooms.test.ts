import { randomUUID } from "node:crypto";
import t from "tap";
import type { MemberUpdate, Message, RoomMembersPage, RoomSummary } from "../../src/realtime/events.js";
import { type ChatClient, call, registerUser, send, settle } from "../helpers/clients.js";
import { chatPair } from "../helpers/pair.js";
import type { TestServer } from "../helpers/server.js";

const { a, b, connect } = await chatPair(t);

interface Tab {
  socket: ChatClient;
  received: Message[];
  invited: { room: string; by: string; private: boolean }[];
  removed: { room: string; by: string }[];
  members: MemberUpdate[];
  typing: { conversation: string; user: string }[];
}

async function tab(
  server: TestServer,
  cookie: string,
  lastIds?: Record<string, string>,
): Promise<Tab & { rooms: string[]; private: string[] }> {
  const { socket, received, welcome } = await connect(server, cookie, lastIds ? { lastIds } : {});
  const state: Tab = { socket, received, invited: [], removed: [], members: [], typing: [] };
  socket.on("room:invited", (event) => state.invited.push(event));
  socket.on("room:removed", (event) => state.removed.push(event));
  socket.on("room:member", (event) => state.members.push(event));
  socket.on("typing", (event) => state.typing.push(event));
  return { ...state, rooms: welcome.rooms, private: welcome.private };
}

/** A user with one socket on each worker: two tabs or devices. */
async function user() {
  const { user, cookie } = await registerUser(a.url);
  return { user, cookie, one: await tab(a, cookie), two: await tab(b, cookie) };
}

const newRoom = () => `#p${randomUUID().slice(0, 8)}`;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Makes the socket follow the room's member changes, as an open member panel does. */
const watch = (socket: ChatClient, room: string) => ok(socket, "room:members", { room, watch: true });
const codeOf = (ack: { ok: boolean; error?: { code: string } }) => (ack.ok ? "ok" : ack.error?.code);

async function ok<T>(socket: ChatClient, event: string, payload: unknown): Promise<T> {
  const ack = await call<T>(socket, event, payload);
  if (!ack.ok) throw new Error(`${event}: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

async function privateRoom(owner: ChatClient): Promise<string> {
  const room = newRoom();
  await ok(owner, "room:create", { room, private: true });
  return room;
}

async function listed(socket: ChatClient): Promise<string[]> {
  const rooms: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ok<{ rooms: RoomSummary[]; next?: string }>(socket, "rooms:list", cursor ? { cursor } : {});
    rooms.push(...page.rooms.map(({ room }) => room));
    cursor = page.next;
  } while (cursor);
  return rooms;
}

t.test("room:create > private > owned, told to the creator's other tabs, unlisted to others", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const joined: { room: string; private?: boolean }[] = [];
  alice.two.socket.on("room:joined", (event) => joined.push(event));
  const room = newRoom();
  const created = await ok(alice.one.socket, "room:create", { room: room.toUpperCase(), private: true });
  t.same(created, { room, history: [], private: true });
  await settle(() => joined.length >= 1);
  t.same(joined, [{ room, private: true }], "the creator's other tab follows");

  const members = await ok<RoomMembersPage>(alice.two.socket, "room:members", { room });
  t.same(members, { room, owner: alice.user, private: true, members: [{ user: alice.user, online: true }] });
  t.notOk((await listed(bob.one.socket)).includes(room), "rooms:list leaves private rooms out");
  t.notOk((await listed(alice.one.socket)).includes(room), "even for its members (their sidebar lists it)");

  const again = await tab(a, alice.cookie);
  t.ok(again.rooms.includes(room) && again.private.includes(room), "a new connection of a member is welcomed into it, marked private");
  t.same(again.private, [room]);

  t.equal(codeOf(await call(bob.one.socket, "room:create", { room })), "E_CONFLICT", "the name is taken");
  t.equal(codeOf(await call(bob.one.socket, "room:join", { room })), "E_FORBIDDEN", "joinable by invitation only");
});

t.test("room:create > public > listed, and its first joiner owns it", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const room = newRoom();
  t.same(await ok(alice.one.socket, "room:create", { room }), { room, history: [], private: false });
  t.ok((await listed(bob.one.socket)).includes(room));
  await watch(alice.two.socket, room);
  t.same(await ok(bob.one.socket, "room:join", { room }), { room, history: [], private: false }, "anyone joins");
  await settle(() => alice.two.members.length >= 1);
  t.same(alice.two.members, [{ room, user: bob.user, change: "joined" }], "a socket watching the member list sees the join live");
  t.same(alice.one.members, [], "one that does not watch is not told");

  const joinedFirst = newRoom();
  await ok(bob.one.socket, "room:join", { room: joinedFirst });
  await ok(alice.one.socket, "room:join", { room: joinedFirst });
  const page = await ok<RoomMembersPage>(alice.one.socket, "room:members", { room: joinedFirst });
  t.equal(page.owner, bob.user, "room:join of a new room makes its creator the owner");
  t.equal(page.private, false);
});

t.test("private room > every read path > refused or empty for non-members", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const room = await privateRoom(alice.one.socket);
  const word = `secret${randomUUID().slice(0, 6)}`;
  const sent = await send(alice.one.socket, room, `the ${word} plan`);

  t.equal(codeOf(await call(bob.one.socket, "history:fetch", { conversation: room })), "E_FORBIDDEN", "history");
  t.equal(codeOf(await call(bob.one.socket, "message:send", { to: room, text: "hi", clientId: randomUUID() })), "E_FORBIDDEN", "send");
  t.equal(codeOf(await call(bob.one.socket, "room:members", { room })), "E_FORBIDDEN", "member list");
  t.equal(codeOf(await call(bob.one.socket, "conversation:read", { conversation: room, lastId: sent.id })), "E_FORBIDDEN", "read marker");
  const found = await ok<{ messages: Message[] }>(bob.one.socket, "search", { query: word });
  t.same(found.messages, [], "search finds nothing");
  const mine = await ok<{ messages: Message[] }>(alice.two.socket, "search", { query: word });
  t.same(
    mine.messages.map((message) => message.id),
    [sent.id],
    "while a member finds it",
  );

  const late = await tab(b, bob.cookie, { [room]: "0-0", "#general": "0-0" });
  t.notOk(late.rooms.includes(room));
  t.same(
    late.received.filter((message) => message.conversation === room),
    [],
    "catch-up replays nothing of it",
  );

  bob.one.socket.emit("typing", { to: room });
  await send(alice.one.socket, room, "after the outsider typed");
  await settle(() => alice.two.received.some((message) => message.text === "after the outsider typed"));
  t.same(alice.two.typing, [], "an outsider's typing reaches no member");
  t.same(
    [...bob.one.received, ...bob.two.received, ...late.received].filter((message) => message.conversation === room),
    [],
    "and nothing reaches the outsider live",
  );
});

t.test("room:invite > a user with tabs on two workers > joined everywhere at once, told, and delivered to", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const room = await privateRoom(alice.one.socket);
  const before = await send(alice.one.socket, room, "before the invitation");
  await watch(alice.two.socket, room);
  t.same(await ok(alice.one.socket, "room:invite", { room, user: bob.user.toUpperCase() }), { room, user: bob.user });
  for (const side of [bob.one, bob.two])
    t.same(side.invited, [{ room, by: alice.user, private: true }], "every tab is told before the ack");
  await settle(() => alice.two.members.length >= 1);
  t.same(alice.two.members, [{ room, user: bob.user, change: "invited", owner: alice.user }]);

  const history = await ok<{ messages: Message[] }>(bob.two.socket, "history:fetch", { conversation: room });
  t.same(
    history.messages.map((message) => message.id),
    [before.id],
    "members read its history",
  );
  const after = await send(alice.one.socket, room, "after the invitation");
  await settle(() => bob.one.received.length >= 1 && bob.two.received.length >= 1);
  for (const side of [bob.one, bob.two])
    t.same(
      side.received.map((message) => message.id),
      [after.id],
      "delivered once to each tab",
    );
  t.same(
    await ok(alice.one.socket, "room:invite", { room, user: bob.user }),
    { room, user: bob.user },
    "inviting a member again is a no-op",
  );
  await pause(150);
  t.equal(bob.one.invited.length, 1, "and tells nobody again");
  const again = await tab(b, bob.cookie);
  t.ok(again.private.includes(room), "the room is in the invited user's sidebar on a new device");
});

t.test("room:remove > across two workers > the removed user's sockets leave before the ack and stop receiving", async (t) => {
  const [alice, bob, carol] = [await user(), await user(), await user()];
  const room = await privateRoom(alice.one.socket);
  await ok(alice.one.socket, "room:invite", { room, user: bob.user });
  await ok(alice.one.socket, "room:invite", { room, user: carol.user });
  const kept = await send(alice.one.socket, room, "everyone sees this");
  await settle(() => bob.two.received.length >= 1 && carol.two.received.length >= 1);
  await watch(carol.two.socket, room);
  await watch(bob.one.socket, room);

  t.same(await ok(alice.one.socket, "room:remove", { room, user: bob.user }), { room, user: bob.user });
  for (const side of [bob.one, bob.two]) t.same(side.removed, [{ room, by: alice.user }], "every tab is told before the ack");
  const gone = await send(alice.one.socket, room, "bob is gone");
  await settle(() => carol.one.received.length >= 2 && carol.two.received.length >= 2);
  for (const side of [bob.one, bob.two])
    t.same(
      side.received.map((message) => message.id),
      [kept.id],
      "nothing after the removal",
    );
  t.same(
    carol.two.received.map((message) => message.id),
    [kept.id, gone.id],
  );
  t.same(carol.two.members, [{ room, user: bob.user, change: "removed", owner: alice.user }], "a watching member is told");
  t.same(bob.one.members, [], "the removed user stopped watching with the removal");

  t.equal(codeOf(await call(bob.two.socket, "history:fetch", { conversation: room })), "E_FORBIDDEN", "history refused");
  t.equal(codeOf(await call(bob.one.socket, "room:join", { room })), "E_FORBIDDEN", "cannot join back");
  t.equal(codeOf(await call(bob.two.socket, "message:send", { to: room, text: "x", clientId: randomUUID() })), "E_FORBIDDEN");
  const late = await tab(b, bob.cookie, { [room]: kept.id });
  t.notOk(late.rooms.includes(room), "not rejoined on reconnect");
  t.same(late.received, [], "no catch-up");
  t.equal(codeOf(await call(alice.one.socket, "room:remove", { room, user: bob.user })), "E_NOT_FOUND", "not a member any more");
});

t.test("room:transfer > to a member > the new owner is in charge, the old one is not", async (t) => {
  const [alice, bob, carol] = [await user(), await user(), await user()];
  const room = await privateRoom(alice.one.socket);
  await ok(alice.one.socket, "room:invite", { room, user: bob.user });
  t.equal(codeOf(await call(alice.one.socket, "room:transfer", { room, user: carol.user })), "E_NOT_FOUND", "only to a member");
  await watch(bob.one.socket, room);
  t.same(await ok(alice.two.socket, "room:transfer", { room, user: bob.user }), { room, owner: bob.user });
  await settle(() => bob.one.members.some(({ change }) => change === "owner"));
  t.same(bob.one.members.at(-1), { room, user: bob.user, change: "owner", owner: bob.user });
  t.equal(codeOf(await call(alice.one.socket, "room:invite", { room, user: carol.user })), "E_FORBIDDEN", "the old owner cannot invite");
  await ok(bob.two.socket, "room:invite", { room, user: carol.user });
  t.equal(codeOf(await call(alice.one.socket, "room:remove", { room, user: bob.user })), "E_FORBIDDEN", "nor remove");
  await ok(bob.one.socket, "room:remove", { room, user: alice.user });
  t.equal((await ok<RoomMembersPage>(carol.one.socket, "room:members", { room })).members.length, 2);
});

t.test("room:leave > the owner leaves > ownership passes to a remaining member; the last one frees the name", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const room = await privateRoom(alice.one.socket);
  await ok(alice.one.socket, "room:invite", { room, user: bob.user });
  await watch(bob.one.socket, room);
  await ok(alice.one.socket, "room:leave", { room });
  await settle(() => bob.one.members.some(({ change }) => change === "left"));
  t.same(bob.one.members.at(-1), { room, user: alice.user, change: "left", owner: bob.user });
  const page = await ok<RoomMembersPage>(bob.two.socket, "room:members", { room });
  t.same(page, { room, owner: bob.user, private: true, members: [{ user: bob.user, online: true }] });
  t.equal(codeOf(await call(alice.one.socket, "room:join", { room })), "E_FORBIDDEN", "a member who left needs a new invitation");

  await send(bob.one.socket, room, "the last words in private");
  await ok(bob.one.socket, "room:leave", { room });
  t.same(
    await ok(alice.one.socket, "room:join", { room }),
    { room, history: [], private: false },
    "an emptied name is free again, without the private history",
  );
});

t.test("room:members > pages > bounded, with a cursor, online flags live", async (t) => {
  const owner = await user();
  const room = await privateRoom(owner.one.socket);
  const others = [];
  for (let i = 0; i < 4; i++) {
    const { user: name } = await registerUser(a.url);
    others.push(name);
    await ok(owner.one.socket, "room:invite", { room, user: name });
  }
  const seen: { user: string; online: boolean }[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page: RoomMembersPage = await ok(owner.one.socket, "room:members", cursor ? { room, cursor, limit: 2 } : { room, limit: 2 });
    seen.push(...page.members);
    cursor = page.next;
    pages++;
  } while (cursor && pages < 10);
  t.same([...new Set(seen.map(({ user }) => user))].sort(), [owner.user, ...others].sort(), "every member once over the pages");
  for (const entry of seen) t.equal(entry.online, entry.user === owner.user, `${entry.user} online only if connected`);
  t.equal(codeOf(await call(owner.one.socket, "room:members", { room, cursor: "x" })), "E_INVALID");
  t.equal(codeOf(await call(owner.one.socket, "room:members", { room, limit: 0 })), "E_INVALID");
});

t.test("room admin events > bad input and non-owners > a clear error, nothing changes", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const room = await privateRoom(alice.one.socket);
  const cases: [ChatClient, string, unknown, string][] = [
    [alice.one.socket, "room:create", "nope", "E_INVALID"],
    [alice.one.socket, "room:create", { room: newRoom(), private: "yes" }, "E_INVALID"],
    [alice.one.socket, "room:create", { room: "#general", private: true }, "E_FORBIDDEN"],
    [alice.one.socket, "room:create", { room: "no-hash" }, "E_INVALID"],
    [alice.one.socket, "room:invite", { room }, "E_INVALID"],
    [alice.one.socket, "room:invite", { room, user: "x" }, "E_INVALID"],
    [alice.one.socket, "room:invite", { room, user: `nosuch${randomUUID().slice(0, 6)}` }, "E_NOT_FOUND"],
    [alice.one.socket, "room:invite", { room, user: alice.user }, "E_INVALID"],
    [alice.one.socket, "room:invite", { room: "#general", user: bob.user }, "E_FORBIDDEN"],
    [bob.one.socket, "room:invite", { room, user: bob.user }, "E_FORBIDDEN"],
    [bob.one.socket, "room:remove", { room, user: alice.user }, "E_FORBIDDEN"],
    [bob.one.socket, "room:transfer", { room, user: bob.user }, "E_FORBIDDEN"],
    [alice.one.socket, "room:remove", { room, user: alice.user }, "E_INVALID"],
    [alice.one.socket, "room:transfer", { room: newRoom(), user: bob.user }, "E_FORBIDDEN"],
    [alice.one.socket, "room:members", { room: 5 }, "E_INVALID"],
    [alice.one.socket, "room:members", { room, watch: "yes" }, "E_INVALID"],
  ];
  for (const [socket, event, payload, code] of cases) {
    t.equal(codeOf(await call(socket, event, payload)), code, `${event} ${JSON.stringify(payload).slice(0, 60)}`);
  }
  const page = await ok<RoomMembersPage>(alice.one.socket, "room:members", { room });
  t.same(page.members, [{ user: alice.user, online: true }]);
  t.equal(page.owner, alice.user);
});

t.test("room:members watch > another room watched > the first room's changes stop", async (t) => {
  const [alice, bob] = [await user(), await user()];
  const [first, second] = [newRoom(), newRoom()];
  await ok(alice.one.socket, "room:create", { room: first });
  await ok(alice.one.socket, "room:create", { room: second });
  await watch(alice.one.socket, first);
  await ok(bob.one.socket, "room:join", { room: first });
  await settle(() => alice.one.members.length >= 1);
  await watch(alice.one.socket, second);
  await ok(bob.one.socket, "room:leave", { room: first });
  await ok(bob.one.socket, "room:join", { room: second });
  await settle(() => alice.one.members.length >= 2);
  t.same(
    alice.one.members.map(({ room, change }) => `${change} ${room}`),
    [`joined ${first}`, `joined ${second}`],
    "only the watched room's changes, one room at a time",
  );
});
