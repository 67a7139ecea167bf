import { randomUUID } from "node:crypto";
import { createClient } from "@redis/client";
import t from "tap";
import type { RoomName } from "../../src/domain/names.js";
import type { Message, SearchResult } from "../../src/realtime/events.js";
import { createKeys } from "../../src/store/keys.js";
import { type ChatClient, call, join, send } from "../helpers/clients.js";
import { suiteClients } from "../helpers/pair.js";
import { startRedis } from "../helpers/redis.js";
import { startServer } from "../helpers/server.js";

const SCAN_MAX = 10;
const redis = await startRedis();
t.teardown(() => redis.stop());
const server = await startServer(redis.url, { SEARCH_SCAN_MAX: String(SCAN_MAX), SEARCH_PAGE: "3", SEARCH_PAGE_MAX: "5" });
t.teardown(() => server.stop());

const clients = suiteClients(t);
const user = () => clients.user(server);

async function search(socket: ChatClient, payload: Record<string, unknown>): Promise<SearchResult> {
  const ack = await call<SearchResult>(socket, "search", payload);
  if (!ack.ok) throw new Error(`${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

/** Follows `next` until the end (at most `maxPages` requests); returns every match and the request count. */
async function searchAll(socket: ChatClient, query: string, maxPages: number) {
  const found: Message[] = [];
  let before: string | undefined;
  for (let requests = 1; requests <= maxPages; requests++) {
    const page = await search(socket, before === undefined ? { query } : { query, before });
    found.push(...page.messages);
    if (page.next === undefined) return { found, requests };
    before = page.next;
  }
  throw new Error(`more than ${maxPages} pages`);
}

/** A word no other test uses, so the shared #general never adds matches. */
const word = () => `w${randomUUID().replaceAll("-", "").slice(0, 10)}`;
const room = () => `#s${randomUUID().slice(0, 8)}`;

t.test("search > rooms and DMs of the user > matches words case-insensitively, newest first, not others' conversations", async (t) => {
  const [alice, bob, carol] = [await user(), await user(), await user()];
  const [shared, carolsRoom] = [room(), room()];
  const key = word();
  await join(alice.socket, shared);
  await join(bob.socket, shared);
  await join(carol.socket, carolsRoom);
  const first = await send(bob.socket, shared, `The ${key.toUpperCase()} is ready`);
  await send(bob.socket, shared, "nothing to see");
  const second = await send(bob.socket, `@${alice.user}`, `about ${key}ment, privately`);
  await send(carol.socket, carolsRoom, `${key} in a room alice is not in`);
  await send(carol.socket, `@${bob.user}`, `${key} between carol and bob`);
  await send(bob.socket, shared, `re${key} does not start a word with it`);

  const page = await search(alice.socket, { query: `  ${key}!  ` });
  t.same(
    page.messages.map((m) => [m.id, m.conversation, m.from]),
    [
      [second.id, `@${bob.user}`, bob.user],
      [first.id, shared, bob.user],
    ],
  );
  t.notOk(page.next, "every conversation read to its start within the bound");
  const both = await search(alice.socket, { query: `ready ${key}` });
  t.same(
    both.messages.map((m) => m.id),
    [first.id],
    "every word must match",
  );
});

t.test("search > more matches than a page > pages resume with next, none repeated or skipped", async (t) => {
  const alice = await user();
  const name = room();
  const key = word();
  await join(alice.socket, name);
  const sent: string[] = [];
  for (let i = 0; i < 7; i++) sent.push((await send(alice.socket, name, `${key} number ${i}`)).id);

  const firstPage = await search(alice.socket, { query: key });
  t.equal(firstPage.messages.length, 3, "SEARCH_PAGE by default");
  const bigger = await search(alice.socket, { query: key, limit: 1000 });
  t.equal(bigger.messages.length, 5, "capped at SEARCH_PAGE_MAX");
  const { found } = await searchAll(alice.socket, key, 10);
  t.same(
    found.map((m) => m.id),
    [...sent].reverse(),
  );
});

t.test("search > a match older than the scan bound > an empty page with next, found after a bounded number of requests", async (t) => {
  const alice = await user();
  const name = room();
  const key = word();
  await join(alice.socket, name);
  const old = await send(alice.socket, name, `${key} at the start`);
  for (let i = 0; i < 3 * SCAN_MAX; i++) await send(alice.socket, name, `filler ${i}`);
  const last = await send(alice.socket, name, "newest filler");

  const firstPage = await search(alice.socket, { query: key });
  t.same(firstPage.messages, [], "nothing matched within the bound");
  t.type(firstPage.next, "string", "a cursor to go on");
  const { found, requests } = await searchAll(alice.socket, key, 20);
  t.same(
    found.map((m) => m.id),
    [old.id],
  );
  // #general and the room hold 3 * SCAN_MAX + 2 entries of this test and a few of others.
  t.ok(requests >= 3, `needed ${requests} requests: each read at most the bound`);
  const newestFirst = await search(alice.socket, { query: "newest filler" });
  t.equal(newestFirst.messages[0]?.id, last.id);
});

t.test("search > equal ids in two conversations, one match per page > each found once, in conversation-name order", async (t) => {
  const alice = await user();
  const [first, second] = [room(), room()].sort() as [string, string];
  await join(alice.socket, first);
  await join(alice.socket, second);
  const key = word();
  // Two streams mint equal ids when they store in the same millisecond; written here with fixed ids.
  const redisClient = createClient({ url: redis.url });
  await redisClient.connect();
  t.teardown(() => redisClient.close());
  const log = (conversation: string) => createKeys(server.config.redisPrefix).log(conversation as RoomName, alice.user);
  await redisClient.xAdd(log(second), "1000-1", { from: alice.user, text: `${key} b`, cid: "c1" });
  await redisClient.xAdd(log(first), "1000-1", { from: alice.user, text: `${key} a`, cid: "c2" });
  await redisClient.xAdd(log(first), "1000-2", { from: alice.user, text: `${key} a newer`, cid: "c3" });

  const found: string[] = [];
  let before: string | undefined;
  for (let page = 0; page < 10; page++) {
    const result = await search(alice.socket, before === undefined ? { query: key, limit: 1 } : { query: key, limit: 1, before });
    found.push(...result.messages.map((m) => `${m.conversation} ${m.id}`));
    if (result.next === undefined) break;
    before = result.next;
  }
  t.same(found, [`${first} 1000-2`, `${first} 1000-1`, `${second} 1000-1`]);
});

t.test("search > after leaving a room > its messages are no longer found", async (t) => {
  const alice = await user();
  const name = room();
  const key = word();
  await join(alice.socket, name);
  await send(alice.socket, name, `${key} before leaving`);
  t.equal((await search(alice.socket, { query: key })).messages.length, 1);
  t.ok((await call(alice.socket, "room:leave", { room: name })).ok);
  t.same((await search(alice.socket, { query: key })).messages, []);
});

t.test("search > bad input > E_INVALID or E_TOO_LONG, the socket stays usable", async (t) => {
  const alice = await user();
  const cases: [unknown, string][] = [
    ["not an object", "E_INVALID"],
    [{ query: 42 }, "E_INVALID"],
    [{ query: " !? " }, "E_INVALID"],
    [{ query: "a b c d e f g h i" }, "E_INVALID"],
    [{ query: "x".repeat(201) }, "E_TOO_LONG"],
    [{ query: "fine", before: "not a cursor" }, "E_INVALID"],
    [{ query: "fine", before: 12 }, "E_INVALID"],
    [{ query: "fine", limit: 0 }, "E_INVALID"],
    [{ query: "fine", limit: "5" }, "E_INVALID"],
  ];
  for (const [payload, code] of cases) {
    const ack = await call(alice.socket, "search", payload);
    t.equal(ack.ok ? "ok" : ack.error.code, code, JSON.stringify(payload).slice(0, 40));
  }
  t.ok((await call(alice.socket, "search", { query: "fine" })).ok);
});
