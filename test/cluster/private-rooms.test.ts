/**
 * Private rooms on a real node:cluster host (two workers behind the primary), with each adapter:
 * an invited user's sockets on both workers join before the owner's ack, and a removed user's
 * sockets on both workers leave before it, so a message sent right after reaches neither.
 */
import t from "tap";
import type { Message } from "../../src/realtime/events.js";
import { type ChatClient, call, registerUser, send, settle } from "../helpers/clients.js";
import { startCluster, twoWorkers } from "../helpers/cluster.js";
import { suiteClients } from "../helpers/pair.js";
import { startRedis } from "../helpers/redis.js";

const redis = await startRedis();
t.teardown(() => redis.stop());

const { connect: open, keep } = suiteClients(t);

async function ok<T>(socket: ChatClient, event: string, payload: unknown): Promise<T> {
  const ack = await call<T>(socket, event, payload, 15_000);
  if (!ack.ok) throw new Error(`${event}: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

for (const adapter of ["redis", "cluster"]) {
  t.test(`private room > ADAPTER=${adapter}, the member's tabs on two workers > invited and removed on both before the ack`, async (t) => {
    const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: `pr-${adapter}:`, ADAPTER: adapter });
    t.teardown(() => cluster.stop());
    const alice = await registerUser(cluster.url, "a");
    const bob = await registerUser(cluster.url, "b");
    const owner = await open(cluster, alice.cookie, { transports: ["polling", "websocket"], reconnection: true });
    const tabs = await twoWorkers(cluster, bob.cookie, keep);
    const told = tabs.map(() => [] as string[]);
    tabs.forEach((tab, i) => {
      tab.socket.on("room:invited", ({ room }) => told[i]?.push(`invited ${room}`));
      tab.socket.on("room:removed", ({ room }) => told[i]?.push(`removed ${room}`));
    });

    const room = `#${adapter}-secret`;
    await ok(owner.socket, "room:create", { room, private: true });
    await ok(owner.socket, "room:invite", { room, user: bob.user });
    t.same(told, [[`invited ${room}`], [`invited ${room}`]], "both workers joined bob's tabs before the ack");
    const shared = await send(owner.socket, room, "for members");
    await settle(() => tabs.every((tab) => tab.received.some((m) => m.id === shared.id)));

    const started = Date.now();
    await ok(owner.socket, "room:remove", { room, user: bob.user });
    t.comment(`room:remove acked in ${Date.now() - started} ms`);
    t.same(
      told,
      [
        [`invited ${room}`, `removed ${room}`],
        [`invited ${room}`, `removed ${room}`],
      ],
      "both left before the ack",
    );
    const after = await send(owner.socket, room, "members only now");
    await settle(() => owner.received.some((m) => m.id === after.id), 10_000, 500);
    const inRoom = (received: Message[]) => received.filter((m) => m.conversation === room).map((m) => m.id);
    for (const tab of tabs) t.same(inRoom(tab.received), [shared.id], `nothing after the removal on ${tab.welcome.instance}`);
  });
}
