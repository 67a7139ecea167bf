import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { registerUser } from "../helpers/clients.js";
import { alive, pidOf, startCluster } from "../helpers/cluster.js";
import { checkDeliveries, drainSends } from "../helpers/delivery-check.js";
import { startRedisUnderTest } from "../helpers/redis.js";
import { percentile, ReliableClient } from "../helpers/reliable-client.js";

// Bounded: CLIENTS clients send for SEND_SECONDS while a random worker is killed KILLS times.
const CLIENTS = 50;
const ROOMS = ["#chaos-a", "#chaos-b", "#chaos-c", "#chaos-d", "#chaos-e"];
const SEND_SECONDS = 20;
const SEND_EVERY_MS = 400;
const KILLS = 4;
/** Per client and tick: about one change for every eight messages. */
const CHANGE_CHANCE = 0.125;
/** A standalone Redis, or a Redis Cluster of 3 masters and 3 replicas under CHAT_TEST_REDIS=cluster (chaos.cluster.test.ts). */
const TOPOLOGY = process.env.CHAT_TEST_REDIS ?? "standalone";

t.test(
  `chaos > 50 clients, rooms and DMs, edits and deletions, workers killed -9, ${TOPOLOGY} Redis > every acked entry reaches every member once, in order`,
  async (t) => {
    const redis = await startRedisUnderTest();
    t.teardown(() => redis.stop());
    const cluster = await startCluster({
      ...redis.env,
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

    clearInterval(ticker);
    t.equal(await drainSends(clients), 0, "every send was eventually acked");
    const delivered = checkDeliveries(clients, members, (line) => t.comment(line));

    const reconnects = clients.flatMap((c) => c.reconnectMs);
    const figures = {
      ...delivered,
      kills,
      reconnects: reconnects.length,
      reconnectP50Ms: percentile(reconnects, 50),
      reconnectP99Ms: percentile(reconnects, 99),
      reconnectMaxMs: Math.max(0, ...reconnects),
    };
    t.comment(`chaos figures: ${JSON.stringify(figures)}`);
    t.ok(delivered.messagesAcked > 500, `${delivered.messagesAcked} messages acked`);
    t.ok(
      delivered.editsAcked > 20 && delivered.deletionsAcked > 10,
      `${delivered.editsAcked} edits and ${delivered.deletionsAcked} deletions acked`,
    );
    t.ok(reconnects.length >= kills, "clients were disconnected by the kills and came back");
    t.equal(delivered.lost, 0, "no acknowledged message, edit or deletion lost");
    t.equal(delivered.duplicates, 0, "nothing shown twice");
    t.equal(delivered.outOfOrder, 0, "every conversation in order");
    t.equal(delivered.reusedIds, 0, "one id per acked message");
  },
);
