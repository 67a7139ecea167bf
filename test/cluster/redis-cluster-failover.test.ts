import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@redis/client";
import t from "tap";
import { type RoomName, streamOf } from "../../src/domain/names.js";
import { createKeys } from "../../src/store/keys.js";
import { api } from "../helpers/clients.js";
import { startCluster } from "../helpers/cluster.js";
import { startRedisCluster } from "../helpers/redis-cluster.js";
import { ReliableClient } from "../helpers/reliable-client.js";
import { startRoomLoad } from "../helpers/room-load.js";
import { until } from "../helpers/until.js";

// Bounded: CLIENTS clients send every SEND_EVERY_MS through a failover.
const CLIENTS = 12;
const ROOMS: RoomName[] = ["#ha-a", "#ha-b", "#ha-c"];
const SEND_EVERY_MS = 200;
const PREFIX = "ha:";

t.test(
  "redis cluster > the master of a busy room killed -9 under load > replica promoted, sends resume, nothing acked is lost or doubled",
  async (t) => {
    const redis = await startRedisCluster();
    t.teardown(() => redis.stop());
    const server = await startCluster({
      REDIS_CLUSTER_NODES: redis.nodeList,
      REDIS_WAIT_REPLICAS: "1",
      REDIS_PREFIX: PREFIX,
      WORKERS: "2",
      CATCHUP_MAX: "100000",
      LOG_LEVEL: "info",
    });
    t.teardown(() => server.stop());
    const load = await startRoomLoad(server.url, { clients: CLIENTS, rooms: ROOMS, sendEveryMs: SEND_EVERY_MS });
    t.teardown(() => load.close());

    const keys = createKeys(PREFIX);
    const logOf = (room: RoomName) => keys.logOf(streamOf(room, ""));
    const busy = ROOMS[0] as RoomName;
    const port = await redis.masterOf(logOf(busy));
    const master = redis.nodes.find((node) => node.port === port);
    if (!master) throw new Error("no master for the busy room");

    await until(() => load.ackedCount() >= CLIENTS * 10, "sends are acknowledged before the kill", 15_000);
    const killedAt = Date.now();
    await master.kill();
    // A new tab connecting, and a session check, while the shard has no master: an outage, never a logout.
    const [first] = load.users;
    if (!first) throw new Error("no users");
    const late = new ReliableClient(server.url, first.cookie, first.user);
    late.socket.on("connect_error", (err) => load.refusals.push(err.message));
    t.teardown(() => late.close());
    const duringOutage = await api(server.url, "/api/session", undefined, first.cookie);
    t.ok([200, 503].includes(duringOutage.status), `GET /api/session during the failover: ${duringOutage.status}, not 401`);

    let promotedMs: number | undefined;
    for (let i = 0; i < 300 && promotedMs === undefined; i++) {
      if ((await redis.masterOf(logOf(busy)).catch(() => port)) !== port) promotedMs = Date.now() - killedAt;
      else await sleep(100);
    }
    t.ok(promotedMs !== undefined, `the cluster promoted the replica ${promotedMs} ms after the kill`);

    // Sends to the busy room resume: a message stored after the kill (its id is Redis's clock) is acknowledged.
    const busyAfterKill = () =>
      load.clients
        .flatMap((c) => c.acked)
        .filter((m) => m.to === busy)
        .map((m) => Number(m.id.split("-")[0]))
        .filter((ms) => ms > killedAt);
    await until(() => busyAfterKill().length > 0, "sends to the busy room resume after the failover", 15_000);
    const outageMs = Math.min(...busyAfterKill()) - killedAt;
    for (const line of server.logs.filter(
      (l) => typeof l.time === "number" && (l.time as number) > killedAt && /redis/.test(l.msg ?? ""),
    )) {
      t.comment(`+${(line.time as number) - killedAt} ms worker ${line.pid}: ${line.msg}`);
    }
    t.comment(`outage: ${outageMs} ms from SIGKILL of the master to the first message stored on the promoted replica`);
    t.ok(outageMs < 10_000, `sends resumed within 10 s of the kill (${outageMs} ms)`);

    await until(() => late.epoch > 0, "the tab opened during the failover connects", 15_000);
    t.ok((await load.sessionsValid()).every(Boolean), "every session created before the failover is valid");

    await load.drain();

    // Every acked message is in its room's stream on its master now, and reached every member once.
    const acked = load.clients.flatMap((c) => c.acked);
    let missingInStore = 0;
    for (const room of ROOMS) {
      const node = createClient({ socket: { host: "127.0.0.1", port: await redis.masterOf(logOf(room)), reconnectStrategy: false } });
      await node.connect();
      const entries = (await node.xRange(logOf(room), "-", "+")) ?? [];
      node.destroy();
      const stored = new Set(entries.map((entry) => entry.id));
      missingInStore += acked.filter((m) => m.to === room && !stored.has(m.id)).length;
    }
    const { lost, duplicates } = load.deliveries();
    t.comment(`${acked.length} messages acknowledged`);
    t.equal(missingInStore, 0, "0 acknowledged messages missing from the streams");
    t.equal(lost, 0, "0 acknowledged messages lost to any member");
    t.equal(duplicates, 0, "0 duplicates");
    t.same(
      load.refusals.filter((message) => message === "unauthorized"),
      [],
      "no client was ever refused as unauthorized",
    );
    t.same(
      server.logs.filter((line) => line.msg === "worker exited"),
      [],
      "no worker exited",
    );
  },
);
