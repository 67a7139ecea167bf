import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@redis/client";
import t from "tap";
import type { Conversation } from "../../src/domain/names.js";
import { createKeys } from "../../src/store/keys.js";
import { api } from "../helpers/clients.js";
import { startCluster } from "../helpers/cluster.js";
import { ReliableClient } from "../helpers/reliable-client.js";
import { startRoomLoad } from "../helpers/room-load.js";
import { startSentinelSet } from "../helpers/sentinel.js";
import { until } from "../helpers/until.js";

// Bounded: CLIENTS clients send every SEND_EVERY_MS through a failover and a rejoin.
const CLIENTS = 12;
const ROOMS = ["#ha-a", "#ha-b"];
const SEND_EVERY_MS = 200;
const PREFIX = "ha:";

t.test("sentinel > primary killed -9 under load > replica promoted, sends resume, nothing acked is lost or doubled", async (t) => {
  const set = await startSentinelSet();
  t.teardown(() => set.stop());
  const [primary, replica] = set.nodes;
  if (!primary || !replica) throw new Error("no nodes");
  const cluster = await startCluster({
    REDIS_SENTINELS: set.sentinelList,
    REDIS_SENTINEL_NAME: set.name,
    REDIS_WAIT_REPLICAS: "1",
    REDIS_PREFIX: PREFIX,
    WORKERS: "2",
    CATCHUP_MAX: "100000",
    LOG_LEVEL: "info",
  });
  t.teardown(() => cluster.stop());

  const load = await startRoomLoad(cluster.url, { clients: CLIENTS, rooms: ROOMS, sendEveryMs: SEND_EVERY_MS });
  t.teardown(() => load.close());
  const { users, clients, refusals } = load;
  const ackedNow = () => load.ackedCount();

  await until(() => ackedNow() >= CLIENTS * 10, "sends are acknowledged before the kill", 15_000);
  const killedAt = Date.now();
  await primary.kill();
  // A new tab connecting, and a session check, while the primary is gone: an outage, never a logout.
  const [first] = users;
  if (!first) throw new Error("no users");
  const late = new ReliableClient(cluster.url, first.cookie, first.user);
  late.socket.on("connect_error", (err) => refusals.push(err.message));
  t.teardown(() => late.close());
  const duringOutage = await api(cluster.url, "/api/session", undefined, first.cookie);
  t.ok([200, 503].includes(duringOutage.status), `GET /api/session during the failover: ${duringOutage.status}, not 401`);
  let promotedMs: number | undefined;
  for (let i = 0; i < 150 && promotedMs === undefined; i++) {
    if ((await set.primaryPort().catch(() => 0)) === replica.port) promotedMs = Date.now() - killedAt;
    else await sleep(100);
  }
  t.comment(`sentinel promoted the replica ${promotedMs} ms after the kill`);

  // Sends resume: a message stored after the kill (its id is Redis's clock) is acknowledged.
  const storedAfterKill = () => load.storedAfter(killedAt);
  await until(() => storedAfterKill().length > 0, "sends resume after the failover", 15_000);
  const outageMs = Math.min(...storedAfterKill()) - killedAt;
  for (const line of cluster.logs.filter((l) => typeof l.time === "number" && (l.time as number) > killedAt && /redis/.test(l.msg ?? ""))) {
    t.comment(`+${(line.time as number) - killedAt} ms worker ${line.pid}: ${line.msg}`);
  }
  t.comment(`outage: ${outageMs} ms from SIGKILL of the primary to the first message stored on the new one`);
  t.ok(outageMs < 10_000, `sends resumed within 10 s of the kill (${outageMs} ms)`);
  t.equal(await set.primaryPort(), replica.port, "sentinel promoted the replica");

  await until(() => late.epoch > 0, "the tab opened during the failover connects", 15_000);

  // Sessions made before the failover are still valid.
  t.ok((await load.sessionsValid()).every(Boolean), "every session created before the failover is valid");

  // The old primary comes back: sentinel makes it a replica of the new one; clients see nothing.
  await sleep(2000);
  const welcomesBefore = clients.reduce((n, c) => n + c.epoch, 0);
  const ackedBeforeRejoin = ackedNow();
  await primary.restart();
  let rejoined = false;
  for (let i = 0; i < 100 && !rejoined; i++) {
    const info = await set.replication(primary.port).catch((): Record<string, string> => ({}));
    rejoined = info.role === "slave" && info.master_port === String(replica.port) && info.master_link_status === "up";
    if (!rejoined) await sleep(200);
  }
  t.ok(rejoined, "the old primary rejoined as a replica of the new one");
  await sleep(2000);
  t.ok(ackedNow() > ackedBeforeRejoin, "sends kept being acknowledged while the old primary rejoined");
  t.equal(
    clients.reduce((n, c) => n + c.epoch, 0),
    welcomesBefore,
    "no client reconnected while the old primary rejoined",
  );

  await load.drain();

  // Every acked message is on the new primary, and reached every member of its room exactly once.
  const keys = createKeys(PREFIX);
  const redis = createClient({ socket: { host: "127.0.0.1", port: replica.port, reconnectStrategy: false } });
  await redis.connect();
  t.teardown(() => redis.destroy());
  const acked = clients.flatMap((c) => c.acked);
  let missingInStore = 0;
  for (const room of ROOMS) {
    const entries = (await redis.xRange(keys.log(room as Conversation, ""), "-", "+")) ?? [];
    const stored = new Set(entries.map((entry) => entry.id));
    missingInStore += acked.filter((m) => m.to === room && !stored.has(m.id)).length;
  }
  const { lost, duplicates } = load.deliveries();
  t.comment(`${acked.length} messages acknowledged, ${set.name} primary now on ${replica.port}`);
  t.equal(missingInStore, 0, "0 acknowledged messages missing from the new primary");
  t.equal(lost, 0, "0 acknowledged messages lost to any member");
  t.equal(duplicates, 0, "0 duplicates");
  t.same(
    refusals.filter((message) => message === "unauthorized"),
    [],
    "no client was ever refused as unauthorized",
  );
  t.same(
    cluster.logs.filter((line) => line.msg === "worker exited"),
    [],
    "no worker exited",
  );
});
