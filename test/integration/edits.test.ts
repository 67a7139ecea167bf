import { randomUUID } from "node:crypto";
import t from "tap";
import type { Message } from "../../src/realtime/events.js";
import { createKeys } from "../../src/store/keys.js";
import { type ChatClient, call, change, changeLog, inbox, registerUser, send, settle } from "../helpers/clients.js";
import { chatPair } from "../helpers/pair.js";
import { startServer } from "../helpers/server.js";

const { redis, a, b, user, connect: open, twoInRoom } = await chatPair(t, { HISTORY_PAGE: "5", CATCHUP_MAX: "20" });

/** Alice (on worker a) and Bob (on worker b) in a fresh room. */
async function pairInRoom() {
  const room = `#e${randomUUID().slice(0, 8)}`;
  return { ...(await twoInRoom(room)), room };
}

async function history(socket: ChatClient, payload: Record<string, unknown>): Promise<Message[]> {
  const ack = await call<{ messages: Message[] }>(socket, "history:fetch", payload);
  if (!ack.ok) throw new Error(ack.error.code);
  return ack.data.messages;
}

t.test("message:edit > own message, members on two workers > each gets message:edited once, no message:new", async (t) => {
  const { alice, bob, room } = await pairInRoom();
  const [aliceNew, bobNew] = [inbox(alice.socket), inbox(bob.socket)];
  const sent = await send(alice.socket, room, "helo world");
  await settle(() => aliceNew.length === 1 && bobNew.length === 1);
  const [aliceChanges, bobChanges] = [changeLog(alice.socket), changeLog(bob.socket)];
  const clientId = randomUUID();
  const ack = await change(alice.socket, room, sent.id, "  hello world  ", clientId);
  t.not(ack.id, sent.id, "the edit has its own stream id");
  await settle(() => aliceChanges.length >= 1 && bobChanges.length >= 1);
  for (const changes of [aliceChanges, bobChanges]) {
    t.same(changes, [
      {
        event: "message:edited",
        id: ack.id,
        conversation: room,
        messageId: sent.id,
        from: alice.user,
        text: "hello world",
        ts: ack.ts,
        clientId,
      },
    ]);
  }
  t.equal(aliceNew.length + bobNew.length, 2, "an edit is never a message:new");

  const retry = await change(alice.socket, room, sent.id, "hello world", clientId);
  t.same(retry, ack, "a retry with the same clientId is stored once");
  await settle(() => true, 1000, 300);
  t.equal(bobChanges.length, 1, "and delivered once");
});

t.test("message:delete > own message > message:deleted to every member; it cannot be edited or deleted again", async (t) => {
  const { alice, bob, room } = await pairInRoom();
  const sent = await send(alice.socket, room, "oops");
  const bobChanges = changeLog(bob.socket);
  const ack = await change(alice.socket, room, sent.id);
  await settle(() => bobChanges.length >= 1);
  t.match(bobChanges, [{ event: "message:deleted", id: ack.id, conversation: room, messageId: sent.id, from: alice.user }]);
  t.notOk("text" in (bobChanges[0] ?? {}), "a deletion carries no text");

  const edit = await call(alice.socket, "message:edit", { conversation: room, id: sent.id, text: "again", clientId: randomUUID() });
  t.match(edit, { ok: false, error: { code: "E_CONFLICT" } });
  const again = await call(alice.socket, "message:delete", { conversation: room, id: sent.id, clientId: randomUUID() });
  t.match(again, { ok: false, error: { code: "E_CONFLICT" } });
});

t.test("message:edit and message:delete > bad requests > stable error codes, nothing delivered", async (t) => {
  const { alice, bob, room } = await pairInRoom();
  const bobChanges = changeLog(bob.socket);
  const sent = await send(alice.socket, room, "mine");
  const edited = await change(alice.socket, room, sent.id, "still mine");
  await settle(() => bobChanges.length === 1);
  bobChanges.length = 0;
  const edit = (payload: Record<string, unknown>, socket = bob.socket) =>
    call(socket, "message:edit", { conversation: room, id: sent.id, text: "x", clientId: randomUUID(), ...payload });
  const cases: [string, Promise<unknown>, string][] = [
    ["another user's message", edit({}), "E_FORBIDDEN"],
    [
      "deleting another user's message",
      call(bob.socket, "message:delete", { conversation: room, id: sent.id, clientId: randomUUID() }),
      "E_FORBIDDEN",
    ],
    ["an id not in the conversation", edit({ id: "1-0" }, alice.socket), "E_NOT_FOUND"],
    ["the id of an edit", edit({ id: edited.id }, alice.socket), "E_NOT_FOUND"],
    ["an id that is not a stream id", edit({ id: "abc" }, alice.socket), "E_INVALID"],
    ["an empty text", edit({ text: "   " }, alice.socket), "E_INVALID"],
    ["a text over the limit", edit({ text: "x".repeat(2001) }, alice.socket), "E_TOO_LONG"],
    ["no clientId", edit({ clientId: undefined }, alice.socket), "E_INVALID"],
    ["a room the sender is not in", edit({ conversation: "#nowhere" }, alice.socket), "E_FORBIDDEN"],
    ["a user that does not exist", edit({ conversation: "@nobody_here" }, alice.socket), "E_NOT_FOUND"],
    ["a payload that is not an object", call(alice.socket, "message:delete", "x"), "E_INVALID"],
  ];
  for (const [situation, reply, code] of cases) t.match(await reply, { ok: false, error: { code } }, situation);
  await settle(() => true, 1000, 300);
  t.same(bobChanges, [], "nothing was delivered");
});

t.test("message:edit > a direct conversation > both sides get it, each naming the other", async (t) => {
  const [alice, bob] = [await user(a), await user(b)];
  const sent = await send(alice.socket, `@${bob.user}`, "hi bob");
  const [aliceChanges, bobChanges] = [changeLog(alice.socket), changeLog(bob.socket)];
  const ack = await change(alice.socket, `@${bob.user}`, sent.id, "hi Bob");
  await settle(() => aliceChanges.length >= 1 && bobChanges.length >= 1);
  t.match(aliceChanges, [{ event: "message:edited", id: ack.id, conversation: `@${bob.user}`, text: "hi Bob" }]);
  t.match(bobChanges, [{ event: "message:edited", id: ack.id, conversation: `@${alice.user}`, text: "hi Bob" }]);
  t.match(await call(bob.socket, "message:delete", { conversation: `@${alice.user}`, id: sent.id, clientId: randomUUID() }), {
    ok: false,
    error: { code: "E_FORBIDDEN" },
  });
});

t.test("history:fetch > edited and deleted messages > current state, updates not listed, full pages", async (t) => {
  const { alice, bob, room } = await pairInRoom();
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await send(alice.socket, room, `message ${i}`)).id);
  await change(alice.socket, room, ids[1] as string, "message 1, edited");
  await change(alice.socket, room, ids[4] as string, "message 4, edited");
  await change(alice.socket, room, ids[4] as string, "message 4, edited twice");
  await change(alice.socket, room, ids[5] as string);

  const latest = await history(bob.socket, { conversation: room });
  t.same(
    latest.map((m) => m.id),
    ids.slice(1),
    "HISTORY_PAGE (5) messages, however many edits follow them",
  );
  t.match(latest[3], { id: ids[4], text: "message 4, edited twice", edited: true });
  t.match(latest[4], { id: ids[5], text: "", deleted: true });
  t.notOk("edited" in (latest[1] ?? {}), "an untouched message has no flag");
  const older = await history(bob.socket, { conversation: room, before: ids[1] });
  t.same(
    older.map((m) => m.text),
    ["message 0"],
  );
  const after = await history(bob.socket, { conversation: room, after: ids[0], limit: 2 });
  t.match(after, [
    { id: ids[1], text: "message 1, edited", edited: true },
    { id: ids[2], text: "message 2" },
  ]);

  const joined = await call<{ history: Message[] }>(alice.socket, "room:join", { room });
  t.match(joined, { ok: true, data: { history: latest } }, "room:join's page too");
});

t.test("catch-up > edits and deletions made while offline > replayed once, in order, with the messages", async (t) => {
  const { alice, bob, room } = await pairInRoom();
  const kept = await send(alice.socket, room, "before");
  bob.socket.close();
  const edit = await change(alice.socket, room, kept.id, "before, edited");
  const later = await send(alice.socket, room, "sent while away");
  const deletion = await change(alice.socket, room, later.id);
  const gone = await send(alice.socket, room, "edited then deleted");
  await change(alice.socket, room, gone.id, "secret edit");
  const goneDeletion = await change(alice.socket, room, gone.id);

  const back = await open(b, bob.cookie, { lastIds: { [room]: kept.id } });
  await settle(() => back.changes.length >= 3);
  t.match(back.changes, [
    { event: "message:edited", id: edit.id, messageId: kept.id, text: "before, edited" },
    { event: "message:deleted", id: deletion.id, messageId: later.id },
    { event: "message:deleted", id: goneDeletion.id, messageId: gone.id },
  ]);
  t.match(back.received, [
    { id: later.id, text: "", deleted: true },
    { id: gone.id, text: "", deleted: true },
  ]);
  t.equal(back.received.length, 2);
  t.notOk(JSON.stringify([back.changes, back.received]).includes("secret"), "deleted text is never replayed");

  // Live after the catch-up: one more edit arrives once.
  const live = await change(alice.socket, room, kept.id, "live edit");
  await settle(() => back.changes.length >= 4);
  t.match(back.changes.at(-1), { id: live.id, text: "live edit" });
  t.equal(back.changes.length, 4);
});

t.test("search > edited and deleted messages > finds the current text only", async (t) => {
  const { alice, bob, room } = await pairInRoom();
  const key = `k${randomUUID().slice(0, 6)}`;
  const edited = await send(alice.socket, room, `${key} tomato`);
  const deleted = await send(alice.socket, room, `${key} potato`);
  await change(alice.socket, room, edited.id, `${key} cucumber`);
  await change(alice.socket, room, deleted.id);
  const search = async (query: string) => {
    const ack = await call<{ messages: Message[] }>(bob.socket, "search", { query });
    if (!ack.ok) throw new Error(ack.error.code);
    return ack.data.messages;
  };
  t.match(await search(`${key} cucumber`), [{ id: edited.id, text: `${key} cucumber`, edited: true }]);
  t.same(await search(`${key} tomato`), [], "not by the text before the edit");
  t.same(await search(`${key} potato`), [], "not a deleted message");
  t.same(
    (await search(key)).map((m) => m.id),
    [edited.id],
    "each message once, edits not listed",
  );
});

t.test("edits overlay > many edits in a short history > pruned of the messages trimmed away", async (t) => {
  const small = await startServer(redis, { HISTORY_LIMIT: "10" });
  t.teardown(() => small.stop());
  const { user, cookie } = await registerUser(small.url);
  const { socket } = await open(small, cookie);
  const edits = 150;
  for (let i = 0; i < edits; i++) {
    const sent = await send(socket, "#general", `message ${i}`);
    await change(socket, "#general", sent.id, `message ${i}, edited`);
  }
  const keys = createKeys(small.config.redisPrefix);
  const [overlay, log] = [keys.edits("#general"), keys.logOf("#general")];
  const fields = Number(await redis.commandFor(overlay, ["HLEN", overlay]));
  // MAXLEN ~ trims whole stream nodes, so the stream keeps more than HISTORY_LIMIT entries.
  const kept = Number(await redis.commandFor(log, ["XLEN", log]));
  t.ok(kept < 2 * edits, `the stream was trimmed to ${kept} entries`);
  t.ok(fields < edits && fields <= Math.max(2 * 10 + 1, kept), `${fields} overlay fields, not one per edit ever made`);
  const page = await history(socket, { conversation: "#general" });
  t.ok(page.length > 0, `${user} still reads the messages kept`);
  for (const message of page) t.match(message, { text: /, edited$/, edited: true });
});
