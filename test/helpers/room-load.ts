import { api, registerUser } from "./clients.js";
import { ReliableClient } from "./reliable-client.js";
import { until } from "./until.js";

export interface RoomLoadOptions {
  clients: number;
  /** Client i joins rooms[i % rooms.length] and sends there. */
  rooms: readonly string[];
  sendEveryMs: number;
}

/** Clients that send to their rooms on a timer through an outage, and what a failover test checks. */
export interface RoomLoad {
  users: { user: string; cookie: string }[];
  clients: ReliableClient[];
  /** Every connect_error message any client got. */
  refusals: string[];
  ackedCount(): number;
  /** The millisecond part of the id of every acknowledged message stored after `since` (Redis's clock). */
  storedAfter(since: number): number[];
  /** Whether every session created before answers GET /api/session with 200. */
  sessionsValid(): Promise<boolean[]>;
  /** Stops sending, waits until every send is acknowledged, then lets deliveries settle. */
  drain(): Promise<void>;
  /** Acknowledged messages missing at a member of their room, and messages a member got twice. */
  deliveries(): { acked: number; lost: number; duplicates: number };
  close(): void;
}

export async function startRoomLoad(url: string, options: RoomLoadOptions): Promise<RoomLoad> {
  const users = await Promise.all(Array.from({ length: options.clients }, () => registerUser(url, "ha")));
  const clients = users.map(({ user, cookie }) => new ReliableClient(url, cookie, user));
  const refusals: string[] = [];
  for (const client of clients) client.socket.on("connect_error", (err) => refusals.push(err.message));
  await Promise.all(clients.map((client) => client.ready()));
  const roomOf = (i: number): string => options.rooms[i % options.rooms.length] as string;
  const members = new Map<string, Set<string>>(options.rooms.map((room) => [room, new Set<string>()]));
  await Promise.all(
    clients.map(async (client, i) => {
      const ack = await client.call("room:join", { room: roomOf(i) });
      if (!ack.ok) throw new Error(`join failed: ${ack.error.code}`);
      members.get(roomOf(i))?.add(client.user);
    }),
  );
  let sending = true;
  const ticker = setInterval(() => {
    for (const [i, client] of clients.entries()) {
      if (sending) client.send(roomOf(i), `m${Date.now()}`);
      client.flush();
    }
  }, options.sendEveryMs);
  const acked = () => clients.flatMap((c) => c.acked);

  return {
    users,
    clients,
    refusals,
    ackedCount: () => acked().length,
    storedAfter: (since) =>
      acked()
        .map((m) => Number(m.id.split("-")[0]))
        .filter((ms) => ms > since),
    sessionsValid: async () =>
      (await Promise.all(users.map(({ cookie }) => api(url, "/api/session", undefined, cookie)))).map((r) => r.status === 200),
    async drain() {
      sending = false;
      await until(() => clients.every((c) => c.unacked === 0), "every send is eventually acknowledged", 20_000);
      clearInterval(ticker);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    },
    deliveries() {
      const all = acked();
      let lost = 0;
      let duplicates = 0;
      for (const client of clients) {
        for (const room of options.rooms) {
          if (!members.get(room)?.has(client.user)) continue;
          const arrived = client.arrivals.get(room) ?? [];
          const seen = new Set(arrived);
          duplicates += arrived.length - seen.size;
          lost += all.filter((m) => m.to === room && !seen.has(m.id)).length;
        }
      }
      return { acked: all.length, lost, duplicates };
    },
    close() {
      clearInterval(ticker);
      for (const client of clients) client.close();
    },
  };
}
