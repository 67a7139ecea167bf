import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { compareIds } from "../../src/domain/stream-ids.js";
import { registerUser } from "../helpers/clients.js";
import { alive, pidOf, startCluster } from "../helpers/cluster.js";
import { startRedis } from "../helpers/redis.js";
import { percentile, ReliableClient } from "../helpers/reliable-client.js";

// Bounded: CLIENTS clients send for SEND_SECONDS while a random worker is killed KILLS times.
const CLIENTS = 50;
const ROOMS = ["#chaos-a", "#chaos-b", "#chaos-c", "#chaos-d", "#chaos-e"];
const SEND_SECONDS = 20;
const SEND_EVERY_MS = 400;
const KILLS = 4;
/** Per client and tick: about one change for every eight messages. */
const CHANGE_CHANCE = 0.125;

t.test(
  "chaos > 50 clients, rooms and DMs, edits and deletions, workers killed -9 > every acked entry reaches every member once, in order",
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const cluster = await startCluster({
      REDIS_URL: redis.url,
      REDIS_PREFIX: "chaos:",
      WORKERS: "2",
      CATCHUP_MAX: "100000",
      LOG_LEVEL: "warn",
    });
    t.teardown(() => cluster.stop());

    const users = await Promise.all(Array.from({ length: CLIENTS }, () => registerUser(cluster.url, "chaos")));
    const clients = users.map(({ user, cookie }) => new ReliableClient(cluster.url, cookie, user));
    t.teardown(() => {
      for (const client of clients) client.close();
    });
    await Promise.all(clients.map((client) => client.ready()));

    // Each client is in #general and two of the chaos rooms; membership is fixed before sending starts.
    const members = new Map<string, Set<string>>(ROOMS.map((room) => [room, new Set<string>()]));
    members.set("#general", new Set(clients.map((c) => c.user)));
    await Promise.all(
      clients.map(async (client, i) => {
        for (const room of [ROOMS[i % ROOMS.length], ROOMS[(i + 2) % ROOMS.length]] as string[]) {
          const ack = await client.call("room:join", { room });
          if (!ack.ok) throw new Error(`join failed: ${ack.error.code}`);
          members.get(room)?.add(client.user);
        }
      }),
    );

    const started = Date.now();
    const ticker = setInterval(() => {
      for (const [i, client] of clients.entries()) {
        if (Date.now() - started > SEND_SECONDS * 1000) break;
        const roll = Math.random();
        const peer = clients[(i + 1 + Math.floor(Math.random() * (CLIENTS - 1))) % CLIENTS] as ReliableClient;
        const to = roll < 0.2 ? `@${peer.user}` : roll < 0.3 ? "#general" : (ROOMS[(i + (roll < 0.65 ? 0 : 2)) % ROOMS.length] as string);
        if (Math.random() < (SEND_EVERY_MS / 1000) * 2.5) client.send(to, `m${Date.now()}`);
        // Now and then an edit or a deletion of one of the client's acknowledged messages.
        if (Math.random() < CHANGE_CHANCE) client.change(Math.random() < 0.7 ? "edit" : "delete");
        client.flush();
      }
    }, SEND_EVERY_MS);
    t.teardown(() => clearInterval(ticker));

    let kills = 0;
    for (; kills < KILLS; kills++) {
      await sleep((SEND_SECONDS * 1000) / (KILLS + 1));
      const victims = [...new Set(clients.map((c) => pidOf(c.instance)))].filter(alive);
      const victim = victims[Math.floor(Math.random() * victims.length)];
      if (victim !== undefined) process.kill(victim, "SIGKILL");
    }
    await sleep(Math.max(0, SEND_SECONDS * 1000 - (Date.now() - started)));

    // Drain: keep retrying until every send is acked, then let deliveries settle.
    const drainStart = Date.now();
    while (clients.some((c) => c.unacked > 0) && Date.now() - drainStart < 60_000) {
      for (const client of clients) client.flush();
      await sleep(250);
    }
    clearInterval(ticker);
    t.equal(
      clients.reduce((n, c) => n + c.unacked, 0),
      0,
      "every send was eventually acked",
    );
    await sleep(2000);

    // Expected: each acked message, for every member of its conversation, exactly once and in order.
    const acked = clients.flatMap((c) => c.acked);
    const byUser = new Map(clients.map((c) => [c.user, c]));
    let lost = 0;
    let duplicates = 0;
    let outOfOrder = 0;
    let deliveries = 0;
    for (const client of clients) {
      const expected = new Map<string, Set<string>>();
      const expect = (conversation: string, id: string) => {
        const set = expected.get(conversation) ?? new Set<string>();
        set.add(id);
        expected.set(conversation, set);
      };
      for (const message of acked) {
        if (message.to.startsWith("#")) {
          if (members.get(message.to)?.has(client.user)) expect(message.to, message.id);
        } else if (message.from === client.user) expect(message.to, message.id);
        else if (message.to === `@${client.user}`) expect(`@${message.from}`, message.id);
      }
      for (const [conversation, ids] of expected) {
        const arrived = client.arrivals.get(conversation) ?? [];
        const seen = new Set<string>();
        let previous: string | undefined;
        for (const id of arrived) {
          if (seen.has(id)) {
            duplicates++;
            if (duplicates <= 3) {
              const hits = client.trace.filter((e) => e.id === id && e.conversation === conversation);
              t.comment(`dup ${client.user} ${conversation} ${id} ${JSON.stringify(hits)} welcomes=${JSON.stringify(client.welcomes)}`);
            }
          }
          seen.add(id);
          if (previous !== undefined && compareIds(id, previous) <= 0) {
            outOfOrder++;
            if (outOfOrder <= 3) {
              const at = client.trace.findIndex((e) => e.id === id && e.conversation === conversation);
              t.comment(`order ${conversation} ${previous} then ${id}: ${JSON.stringify(client.trace.slice(Math.max(0, at - 3), at + 2))}`);
            }
          }
          previous = id;
        }
        for (const id of ids) {
          if (seen.has(id)) continue;
          lost++;
          if (lost <= 3) {
            const around = arrived.filter((a) => Math.abs(Number(a.split("-")[0]) - Number(id.split("-")[0])) < 3000);
            t.comment(
              `lost ${client.user} ${conversation} ${id}; arrived near it: ${JSON.stringify(around)} welcomes=${JSON.stringify(client.welcomes)}`,
            );
          }
        }
        deliveries += ids.size;
      }
      t.ok(byUser.has(client.user));
    }
    const reconnects = clients.flatMap((c) => c.reconnectMs);
    const figures = {
      messagesAcked: acked.filter((entry) => entry.kind === "message").length,
      editsAcked: acked.filter((entry) => entry.kind === "edit").length,
      deletionsAcked: acked.filter((entry) => entry.kind === "delete").length,
      deliveriesExpected: deliveries,
      kills,
      lost,
      duplicates,
      outOfOrder,
      reconnects: reconnects.length,
      reconnectP50Ms: percentile(reconnects, 50),
      reconnectP99Ms: percentile(reconnects, 99),
      reconnectMaxMs: Math.max(0, ...reconnects),
    };
    t.comment(`chaos figures: ${JSON.stringify(figures)}`);
    t.ok(figures.messagesAcked > 500, `${figures.messagesAcked} messages acked`);
    t.ok(
      figures.editsAcked > 20 && figures.deletionsAcked > 10,
      `${figures.editsAcked} edits and ${figures.deletionsAcked} deletions acked`,
    );
    t.ok(reconnects.length >= kills, "clients were disconnected by the kills and came back");
    t.equal(lost, 0, "no acknowledged message, edit or deletion lost");
    t.equal(duplicates, 0, "nothing shown twice");
    t.equal(outOfOrder, 0, "every conversation in order");
    // A DM stream is shared by a pair, so the key is the id with both ends.
    const keyOf = (m: { id: string; to: string; from: string }) =>
      m.to.startsWith("#") ? `${m.id}${m.to}` : `${m.id}${[m.to, `@${m.from}`].sort()}`;
    const storedIds = new Map<string, number>();
    for (const m of acked) storedIds.set(keyOf(m), (storedIds.get(keyOf(m)) ?? 0) + 1);
    const reused = [...storedIds].filter(([, n]) => n > 1);
    if (reused.length > 0)
      t.comment(`reused ids: ${JSON.stringify(reused.slice(0, 3))} ${JSON.stringify(acked.filter((m) => keyOf(m) === reused[0]?.[0]))}`);
    t.equal(reused.length, 0, "one id per acked message");
  },
);
