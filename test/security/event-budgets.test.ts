import t from "tap";
import type { Ack } from "../../src/realtime/events.js";
import { type ChatClient, call, connect, registerUser, settle } from "../helpers/clients.js";
import { suiteClients } from "../helpers/pair.js";
import { startRedis } from "../helpers/redis.js";
import { startServer } from "../helpers/server.js";

const redis = await startRedis();
t.teardown(() => redis.stop());

const codeOf = (ack: Ack<unknown>): string => (ack.ok ? "ok" : ack.error.code);

async function listAll(socket: ChatClient, limit?: number): Promise<{ rooms: string[]; pages: number }> {
  const rooms: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (let guard = 0; guard < 100; guard++) {
    const ack = await call<{ rooms: { room: string }[]; next?: string }>(socket, "rooms:list", { cursor, limit });
    if (!ack.ok) throw new Error(ack.error.code);
    pages++;
    rooms.push(...ack.data.rooms.map((r) => r.room));
    cursor = ack.data.next;
    if (cursor === undefined) break;
  }
  return { rooms, pages };
}

t.test("event budget > past EVENT_BURST > every kind of event gets E_RATE_LIMITED", async (t) => {
  const server = await startServer(redis.url, { EVENT_RATE: "1", EVENT_BURST: "5" });
  t.teardown(() => server.stop());
  const { cookie } = await registerUser(server.url);
  const { socket } = await connect(server.url, cookie);
  t.teardown(() => socket.close());
  for (let i = 0; i < 5; i++) t.equal(codeOf(await call(socket, "presence:list", {})), "ok", "within the burst");
  const probes: [string, unknown][] = [
    ["room:join", { room: "#budget" }],
    ["room:leave", { room: "#budget" }],
    ["history:fetch", { conversation: "#general" }],
    ["rooms:list", {}],
    ["presence:list", {}],
    ["message:send", { to: "#general", text: "hi", clientId: "c1" }],
    ["no:such-event", {}],
  ];
  for (const [event, payload] of probes) t.equal(codeOf(await call(socket, event, payload)), "E_RATE_LIMITED", event);
});

t.test("event budget > one user's two sockets > share USER_EVENT_BURST", async (t) => {
  const server = await startServer(redis.url, { USER_EVENT_RATE: "1", USER_EVENT_BURST: "4" });
  t.teardown(() => server.stop());
  const { cookie } = await registerUser(server.url);
  const a = await connect(server.url, cookie);
  const b = await connect(server.url, cookie);
  t.teardown(() => {
    a.socket.close();
    b.socket.close();
  });
  const codes: string[] = [];
  for (const socket of [a.socket, b.socket, a.socket, b.socket, a.socket, b.socket])
    codes.push(codeOf(await call(socket, "presence:list", {})));
  t.same(codes, ["ok", "ok", "ok", "ok", "E_RATE_LIMITED", "E_RATE_LIMITED"]);
});

t.test("sockets per user > one more than SOCKETS_PER_USER > refused with E_RATE_LIMITED", async (t) => {
  const server = await startServer(redis.url, { SOCKETS_PER_USER: "2" });
  t.teardown(() => server.stop());
  const { user, cookie } = await registerUser(server.url);
  const a = await connect(server.url, cookie);
  const b = await connect(server.url, cookie);
  t.teardown(() => {
    a.socket.close();
    b.socket.close();
  });
  // Presence counts a socket once it is set up: wait until both are.
  await settle(() => true, 100, 300);
  const refused = await connect(server.url, cookie).then(
    (c) => {
      c.socket.close();
      return undefined;
    },
    (err: Error & { data?: { code: string } }) => err,
  );
  t.equal(refused?.message, "too many connections", `user ${user}`);
  t.equal(refused?.data?.code, "E_RATE_LIMITED");
});

t.test("rooms per user > past ROOMS_PER_USER > E_FORBIDDEN; leaving one makes room", async (t) => {
  const server = await startServer(redis.url, { ROOMS_PER_USER: "3" });
  t.teardown(() => server.stop());
  const { cookie } = await registerUser(server.url);
  const { socket } = await connect(server.url, cookie);
  t.teardown(() => socket.close());
  t.equal(codeOf(await call(socket, "room:join", { room: "#cap-a" })), "ok");
  t.equal(codeOf(await call(socket, "room:join", { room: "#cap-b" })), "ok");
  t.equal(codeOf(await call(socket, "room:join", { room: "#cap-c" })), "E_FORBIDDEN", "#general counts");
  t.equal(codeOf(await call(socket, "room:join", { room: "#cap-a" })), "ok", "joining again is no new room");
  t.equal(codeOf(await call(socket, "room:leave", { room: "#cap-a" })), "ok");
  t.equal(codeOf(await call(socket, "room:join", { room: "#cap-c" })), "ok");
});

t.test("room creation > past ROOM_CREATE_RATE > E_RATE_LIMITED; existing rooms still joinable", async (t) => {
  const server = await startServer(redis.url, { ROOM_CREATE_RATE: "2" });
  t.teardown(() => server.stop());
  const { user } = suiteClients(t);
  const [owner, creator] = [await user(server), await user(server)];
  t.equal(codeOf(await call(owner.socket, "room:join", { room: "#existing" })), "ok");
  t.equal(codeOf(await call(creator.socket, "room:join", { room: "#new-1" })), "ok");
  t.equal(codeOf(await call(creator.socket, "room:join", { room: "#new-2" })), "ok");
  t.equal(codeOf(await call(creator.socket, "room:join", { room: "#new-3" })), "E_RATE_LIMITED");
  t.equal(codeOf(await call(creator.socket, "room:join", { room: "#existing" })), "ok");
});

t.test("rooms:list > the last member leaves > the room is no longer listed", async (t) => {
  const server = await startServer(redis.url);
  t.teardown(() => server.stop());
  const { socket } = await suiteClients(t).user(server);
  await call(socket, "room:join", { room: "#fleeting" });
  t.ok((await listAll(socket)).rooms.includes("#fleeting"));
  await call(socket, "room:leave", { room: "#fleeting" });
  t.notOk((await listAll(socket)).rooms.includes("#fleeting"));
});

t.test("rooms:list > more rooms than a page > pages in name order, each room once, old payload gets page one", async (t) => {
  const server = await startServer(redis.url, { ROOMS_PAGE: "4" });
  t.teardown(() => server.stop());
  const { socket } = await suiteClients(t).user(server);
  const made = Array.from({ length: 9 }, (_, i) => `#page-${i}`);
  for (const room of made) t.equal(codeOf(await call(socket, "room:join", { room })), "ok");
  const all = await listAll(socket);
  t.same(all.rooms, ["#general", ...made].sort());
  t.equal(all.pages, 3);
  const small = await listAll(socket, 2);
  t.equal(small.pages, 5);
  const first = await call<{ rooms: unknown[]; next?: string }>(socket, "rooms:list", {});
  t.ok(first.ok && first.data.rooms.length === 4 && first.data.next === "#page-2");
  t.equal(codeOf(await call(socket, "rooms:list", { cursor: 42 })), "E_INVALID");
  t.equal(codeOf(await call(socket, "rooms:list", { limit: "all" })), "E_INVALID");
});

t.test("typing > typing into 101 conversations > the first one's throttle still holds", async (t) => {
  const server = await startServer(redis.url, { TYPING_INTERVAL_MS: "60000" });
  t.teardown(() => server.stop());
  const { user } = suiteClients(t);
  const [typist, reader] = [await user(server), await user(server)];
  const seen: string[] = [];
  reader.socket.on("typing", ({ conversation }) => seen.push(conversation));
  for (let round = 0; round < 4; round++) {
    typist.socket.emit("typing", { to: "#general" });
    for (let i = 0; i < 101; i++) typist.socket.emit("typing", { to: `@nobody${round}x${i}` });
  }
  // An acked event after them: once it is answered, every typing event before it was handled.
  await call(typist.socket, "presence:list", {});
  await settle(() => seen.length >= 1, 5000, 300);
  t.same(seen, ["#general"], "one indicator in the interval");
});
