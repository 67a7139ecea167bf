import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { PROJECT_ROOT } from "../../src/lib/paths.js";
import { PRESENCE_BATCH_MS } from "../../src/realtime/presence.js";
import { type Connected, connect, presenceLog, registerUser, send, settle, untilOnline } from "../helpers/clients.js";
import { alive, pidOf, startCluster, type TestCluster, twoWorkers } from "../helpers/cluster.js";
import { suiteClients } from "../helpers/pair.js";
import { freePort, startRedis } from "../helpers/redis.js";

const redis = await startRedis();
t.teardown(() => redis.stop());

const { connect: open, keep } = suiteClients(t);

/** Pids of the workers the primary saw become ready (after `since`), from its own log lines. */
function readyWorkers(cluster: TestCluster, since = 0): number[] {
  return cluster.logs
    .filter((l) => l.msg === "worker ready" && l.role === "primary" && (l.time as number) > since)
    .map((l) => pidOf(l.instance as string));
}

/** Whether the process has jemalloc mapped, i.e. it runs on jemalloc's malloc. */
const mapsJemalloc = (pid: number): boolean => readFileSync(`/proc/${pid}/maps`, "utf8").includes("libjemalloc");

t.test("cluster > clients on two workers > a message crosses workers", async (t) => {
  const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: "c1:" });
  t.teardown(() => cluster.stop());
  const { cookie } = await registerUser(cluster.url);
  const [one, two] = await twoWorkers(cluster, cookie, keep);
  t.not(one.welcome.instance, two.welcome.instance);
  const ack = await send(one.socket, "#general", "across workers");
  await settle(() => two.received.some((m) => m.id === ack.id));
  t.equal(two.received.filter((m) => m.id === ack.id).length, 1);

  const metrics = await (await fetch(`${cluster.url}/metrics`)).text();
  for (const instance of [one.welcome.instance, two.welcome.instance]) {
    t.match(metrics, new RegExp(`chat_sockets\\{worker="${pidOf(instance)}"\\} [1-9]`), "GET /metrics covers every worker of the host");
  }
  t.match(metrics, /chat_messages_stored_total\{worker="\d+"\} 1/);

  // .ci/run installs libjemalloc2: WORKER_ALLOCATOR=auto preloads it into every worker.
  t.equal((await cluster.waitForLog((l) => l.msg === "listening")).allocator, "jemalloc");
  t.same(readyWorkers(cluster).map(mapsJemalloc), [true, true], "both workers run on jemalloc");
});

t.test("cluster > ADAPTER=cluster > a message crosses workers through the primary", async (t) => {
  const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: "c2:", ADAPTER: "cluster", WORKER_ALLOCATOR: "glibc" });
  t.teardown(() => cluster.stop());
  t.equal((await cluster.waitForLog((l) => l.msg === "listening")).allocator, "glibc");
  t.same(readyWorkers(cluster).map(mapsJemalloc), [false, false], "both workers keep glibc's malloc");
  const { cookie } = await registerUser(cluster.url);
  const [one, two] = await twoWorkers(cluster, cookie, keep);
  const updates: string[] = [];
  two.socket.on("session:ended", () => updates.push("ended"));
  const ack = await send(one.socket, "#general", "via cluster adapter");
  await settle(() => two.received.some((m) => m.id === ack.id));
  t.equal(two.received.filter((m) => m.id === ack.id).length, 1);
});

t.test("cluster > kill -9 a worker > respawned, and its client reconnects by itself and sends again", async (t) => {
  const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: "c3:" });
  t.teardown(() => cluster.stop());
  const { cookie } = await registerUser(cluster.url);
  const [victim, witness] = await twoWorkers(cluster, cookie, keep);
  const victimPid = pidOf(victim.welcome.instance);
  const rewelcome = new Promise<{ instance: string; at: number }>((resolve) =>
    victim.socket.once("welcome", (w) => resolve({ instance: w.instance, at: Date.now() })),
  );
  const killedAt = Date.now();
  process.kill(victimPid, "SIGKILL");

  const respawned = await cluster.waitForLog((l) => l.msg === "worker ready" && l.role === "primary" && (l.time as number) > killedAt);
  const respawnMs = (respawned.time as number) - killedAt;
  const back = await rewelcome;
  const reconnectMs = back.at - killedAt;
  t.not(back.instance, victim.welcome.instance, "served by a live worker");
  t.ok(
    cluster.logs.some((l) => l.msg === "worker exited" && l.signal === "SIGKILL" && l.workerPid === victimPid),
    "exit logged with its signal",
  );
  t.comment(`respawn took ${respawnMs} ms; the client was back in ${reconnectMs} ms`);

  const ack = await send(victim.socket, "#general", "after the crash");
  await settle(() => witness.received.some((m) => m.id === ack.id));
  t.equal(witness.received.filter((m) => m.id === ack.id).length, 1);
});

t.test("cluster > SIGHUP > workers replaced one at a time; clients keep chatting", async (t) => {
  const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: "c4:" });
  t.teardown(() => cluster.stop());
  const { cookie } = await registerUser(cluster.url);
  const [one, two] = await twoWorkers(cluster, cookie, keep);
  // A second user with a single tab: it moves once or twice, and must never look offline. While
  // one worker drains, the watcher on the other one hears every announcement.
  const mover = await registerUser(cluster.url);
  const moving = await open(cluster, mover.cookie, { reconnection: true });
  const told = [one, two].map(({ socket }) => presenceLog(socket));
  const before = new Set(readyWorkers(cluster));
  // Both workers are replaced, so both clients are greeted again once their rooms are rejoined.
  const rewelcomed = Promise.all([one, two, moving].map(({ socket }) => new Promise((resolve) => socket.once("welcome", resolve))));
  const hupAt = Date.now();
  cluster.proc.kill("SIGHUP");
  await cluster.waitForLog((l) => l.msg === "rolling restart done", 60_000);
  const after = readyWorkers(cluster, hupAt);
  t.equal(after.length, 2, "two new workers");
  for (const pid of after) t.notOk(before.has(pid));
  for (const pid of before) t.notOk(alive(pid), `old worker ${pid} exited`);
  const exits = cluster.logs.filter((l) => l.msg === "worker exited" && (l.time as number) > hupAt);
  t.ok(
    exits.every((l) => l.code === 0),
    "old workers drained and exited 0",
  );
  await rewelcomed;
  const ack = await send(one.socket, "#general", "after the restart");
  await settle(() => two.received.some((m) => m.id === ack.id));
  t.equal(two.received.filter((m) => m.id === ack.id).length, 1);
  await new Promise((r) => setTimeout(r, PRESENCE_BATCH_MS + 300));
  t.same(
    told.flat().filter((u) => u.user === mover.user && !u.online),
    [],
    "a user whose only tab was on a draining worker never showed offline",
  );
});

t.test("primary > hostile client traffic > keeps serving", async (t) => {
  const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: "c5:" });
  t.teardown(() => cluster.stop());
  const { port } = new URL(cluster.url);
  const payloads = [
    "GARBAGE\r\n\r\n",
    "GET / HTTP/1.1\r\n", // half a request, then reset
    'POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"a":', // body never finished
    `GET /?sid=${"A".repeat(20)} HTTP/1.1\r\nHost: x\r\n\r\n`, // a sid that names no worker
    `GET /socket.io/?EIO=4&transport=polling&sid=999.x HTTP/1.1\r\nHost: x\r\n\r\n`, // a worker that does not exist
    "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", // smuggling-shaped framing
    `GET / HTTP/1.1\r\nHost: x\r\nX: ${"y".repeat(70_000)}\r\n\r\n`, // oversized header
    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS hello on the plain port
  ];
  for (let round = 0; round < 5; round++) {
    await Promise.all(
      payloads.map(
        (payload, i) =>
          new Promise<void>((resolve) => {
            const socket = tcpConnect(Number(port), "127.0.0.1", () => {
              socket.write(payload);
              setTimeout(() => (i % 2 === 0 ? socket.resetAndDestroy() : socket.destroy()), 20);
            });
            socket.on("error", () => undefined);
            socket.on("close", () => resolve());
          }),
      ),
    );
  }
  t.ok(alive(cluster.proc.pid as number), "primary alive");
  const res = await fetch(`${cluster.url}/healthz`);
  t.equal(res.status, 200);
  const { cookie } = await registerUser(cluster.url);
  const client = await open(cluster, cookie, { transports: ["polling", "websocket"] });
  t.ok(client.welcome.user);
});

t.test("primary > no REDIS_URL and nothing on the local port > embedded redis-server, all stopped by SIGTERM", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-data-"));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const nothingThere = await freePort();
  const cluster = await startCluster({
    REDIS_LOCAL_URL: `redis://127.0.0.1:${nothingThere}`,
    DATA_DIR: dataDir,
    SHUTDOWN_TIMEOUT_MS: "5000",
  });
  const started = await cluster.waitForLog((l) => l.msg === "started embedded redis-server");
  const redisPid = started.redisPid as number;
  const workerPids = readyWorkers(cluster);
  t.equal(workerPids.length, 2);
  const { cookie } = await registerUser(cluster.url);
  t.ok(cookie, "works against the embedded Redis");

  const stoppedAt = Date.now();
  const code = await cluster.stop(15_000);
  const tookMs = Date.now() - stoppedAt;
  t.equal(code, 0, "primary exits 0");
  t.ok(tookMs < 10_000, `stopped in ${tookMs} ms`);
  for (const pid of [...workerPids, redisPid]) t.notOk(alive(pid), `process ${pid} gone`);
});

t.test("config > invalid values > exit non-zero naming every bad variable", async (t) => {
  const run = spawnSync(process.execPath, [join(PROJECT_ROOT, "dist/src/main.js")], {
    env: { PATH: process.env.PATH, PORT: "abc", ADAPTER: "carrier-pigeon", NODE_ENV: "production" },
    encoding: "utf8",
    timeout: 20_000,
  });
  t.equal(run.status, 1);
  t.match(run.stderr, "PORT");
  t.match(run.stderr, "ADAPTER");
  t.match(run.stderr, "SESSION_SECRET");
});

t.test("config > production with a secret > runs", async (t) => {
  const cluster = await startCluster({
    REDIS_URL: redis.url,
    REDIS_PREFIX: `c6${randomUUID().slice(0, 4)}:`,
    NODE_ENV: "production",
    SESSION_SECRET: randomUUID() + randomUUID(),
    // Production's own cost: the tests' minimal one is refused there.
    PASSWORD_HASH_COST: "standard",
    WORKERS: "1",
  });
  t.teardown(() => cluster.stop());
  const { cookie } = await registerUser(cluster.url);
  t.ok(cookie);
});

t.test("presence > the only worker of a user is killed -9 > the others see them offline within PRESENCE_TTL", async (t) => {
  const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: "c7:", PRESENCE_TTL: "3" });
  t.teardown(() => cluster.stop());
  const watcher = await registerUser(cluster.url);
  const { user, cookie } = await registerUser(cluster.url);
  const [watching] = await twoWorkers(cluster, watcher.cookie, keep);
  const updates: { user: string; online: boolean; at: number }[] = [];
  const told = presenceLog(watching.socket);
  const stamp = () => {
    for (const u of told.splice(0)) updates.push({ ...u, at: Date.now() });
  };
  watching.socket.on("presence:update", stamp);
  watching.socket.on("presence:changes", stamp);
  // The user's one socket, on the worker the watcher is not on, and it will not reconnect (it
  // retries only while connecting, like a browser: see connect()).
  let victim: Connected | undefined;
  for (let i = 0; i < 20 && !victim; i++) {
    const client = await connect(cluster.url, cookie, { transports: ["polling", "websocket"], reconnection: true });
    if (client.welcome.instance !== watching.welcome.instance) victim = client;
    else client.socket.close();
  }
  if (!victim) throw new Error("could not place the user on the other worker");
  victim.socket.io.reconnection(false);
  keep(victim.socket);
  // Probing connections came and went: start counting once the user is online through the victim.
  await untilOnline(watching.socket, user);
  // Announcements of the probes' comings and goings may still be gathered: let them out first.
  await new Promise((r) => setTimeout(r, PRESENCE_BATCH_MS + 300));
  updates.length = 0;
  const killedAt = Date.now();
  process.kill(pidOf(victim.welcome.instance), "SIGKILL");
  await settle(() => updates.some((u) => u.user === user && !u.online), 15_000, 0);
  const offlineAfter = (updates.find((u) => u.user === user && !u.online)?.at ?? 0) - killedAt;
  t.ok(offlineAfter <= 3000 + 1000 + 1500, `offline after ${offlineAfter} ms (TTL 3 s + one heartbeat)`);
  t.ok(offlineAfter > 0, "announced after the kill");
  t.same(
    updates.filter((u) => u.user === user).map((u) => u.online),
    [false],
    `exactly one offline: ${JSON.stringify(updates)}`,
  );
});
