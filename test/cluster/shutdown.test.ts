/**
 * SIGTERM stops the real server (`node dist/src/main.js`) promptly: it drains for as long as there
 * are clients to send away, and no longer. The bounds are generous so that they hold on a busy
 * machine (unloaded: about 0.2 s idle, 2.3 s with sockets, which keep their presence 2 s); the
 * measured times are printed as comments.
 */
import t from "tap";
import { type ChatClient, connect, registerUser } from "../helpers/clients.js";
import { alive, pidOf, startCluster, type TestCluster } from "../helpers/cluster.js";
import { startRedis } from "../helpers/redis.js";

const redis = await startRedis();
t.teardown(() => redis.stop());

/** The pids of the workers the primary saw become ready. */
const workerPids = (cluster: TestCluster): number[] =>
  cluster.logs.filter((l) => l.msg === "worker ready" && l.role === "primary").map((l) => pidOf(l.instance as string));

/** SIGTERMs the server and resolves with its exit code and how long it took to exit. */
async function stopTimed(cluster: TestCluster): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const code = await cluster.stop(30_000);
  return { code, ms: Date.now() - started };
}

t.test("shutdown > SIGTERM on an idle server > exits 0 within 3 s", async (t) => {
  const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: "s1:", SHUTDOWN_TIMEOUT_MS: "30000" });
  t.teardown(() => cluster.stop());
  const pids = workerPids(cluster);
  const { code, ms } = await stopTimed(cluster);
  t.comment(`idle server stopped in ${ms} ms`);
  t.equal(code, 0);
  t.ok(ms < 3000, `stopped in ${ms} ms`);
  for (const pid of pids) t.notOk(alive(pid), `worker ${pid} gone`);
});

t.test("shutdown > SIGTERM with 3 open sockets > they are sent away and the server exits 0 within 8 s", async (t) => {
  // A budget far above the bound: a drain that waited for its budget would fail.
  const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: "s2:", SHUTDOWN_TIMEOUT_MS: "30000" });
  t.teardown(() => cluster.stop());
  const { cookie } = await registerUser(cluster.url);
  const sockets: ChatClient[] = [];
  t.teardown(() => {
    for (const socket of sockets) socket.close();
  });
  for (let i = 0; i < 3; i++) sockets.push((await connect(cluster.url, cookie)).socket);
  const sentAway = Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once("disconnect", resolve))));
  const { code, ms } = await stopTimed(cluster);
  t.comment(`server with 3 sockets stopped in ${ms} ms`);
  await sentAway;
  t.equal(code, 0);
  t.ok(ms < 8000, `stopped in ${ms} ms`);
});
