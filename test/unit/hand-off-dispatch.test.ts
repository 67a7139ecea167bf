/**
 * The primary's hand-off queue (src/primary/hand-off.ts, dispatchHandOffs) with real cluster
 * workers and real sockets: a connection for a new session goes to whichever worker is free, one
 * for an existing session waits for its own worker, and a dead worker's queue is closed at once. The
 * backlog it reports is what a draining worker paces itself by in a rolling restart.
 */
import cluster, { type Worker } from "node:cluster";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import t, { type Test } from "tap";
import { PROJECT_ROOT } from "../../src/lib/paths.js";
import { dispatchHandOffs } from "../../src/primary/hand-off.js";

cluster.setupPrimary({ exec: join(PROJECT_ROOT, "test/helpers/hand-off-worker.ts"), serialization: "advanced" });
const handOffs = dispatchHandOffs();

const NEW_SESSION = Buffer.from("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: chat\r\n\r\n");
const EXISTING_SESSION = Buffer.from("GET /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: chat\r\n\r\n");

async function fork(busyMs: number): Promise<Worker> {
  const worker = cluster.fork({ BUSY_MS: String(busyMs) });
  await new Promise<void>((resolve) => worker.on("message", (m: { type?: string }) => m?.type === "up" && resolve()));
  return worker;
}

/** Server-side sockets of `count` loopback connections, and their client ends. */
async function connections(count: number): Promise<{ server: Socket[]; clients: Socket[]; close(): void }> {
  const listener = createServer();
  listener.listen(0, "127.0.0.1");
  await once(listener, "listening");
  const server: Socket[] = [];
  listener.on("connection", (socket: Socket) => server.push(socket));
  const clients: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const client = connect((listener.address() as AddressInfo).port, "127.0.0.1");
    client.on("error", () => undefined);
    await once(client, "connect");
    clients.push(client);
  }
  while (server.length < count) await new Promise((r) => setTimeout(r, 10));
  return {
    server,
    clients,
    close: () => {
      for (const socket of [...server, ...clients]) socket.destroy();
      listener.close();
    },
  };
}

/** Hands every socket to `worker` as sticky would, and counts which worker got each one. */
async function handOver(worker: Worker, workers: Worker[], sockets: Socket[], data: Buffer): Promise<Map<Worker, number>> {
  const got = new Map<Worker, number>(workers.map((w) => [w, 0]));
  let total = 0;
  const done = new Promise<void>((resolve) => {
    for (const w of workers) {
      w.on("message", (m: { type?: string }) => {
        if (m?.type !== "got") return;
        got.set(w, (got.get(w) ?? 0) + 1);
        if (++total === sockets.length) resolve();
      });
    }
  });
  sockets.forEach((socket, i) => {
    worker.send({ type: "sticky:connection", data, tag: String(i) }, socket);
  });
  await done;
  return got;
}

/** Workers that stay busy `busyMs` per connection, and `count` connections, all ended after the test. */
async function setUp(t: Test, busyMs: number[], count: number) {
  const workers: Worker[] = [];
  for (const ms of busyMs) workers.push(await fork(ms));
  const conns = await connections(count);
  t.teardown(async () => {
    conns.close();
    const running = workers.filter((w) => !w.isDead());
    for (const w of running) w.process.kill();
    await Promise.all(running.map((w) => once(w, "exit")));
  });
  return { workers, conns };
}

t.test("hand-off queue > new sessions > go to whichever worker is free, not only the one sticky picked", async (t) => {
  const { workers, conns } = await setUp(t, [30, 30], 20);
  const handing = handOver(workers[0] as Worker, workers, conns.server, NEW_SESSION);
  t.equal(handOffs.backlog(), 18, "one in each worker's channel, the others in the backlog");
  const got = await handing;
  t.equal(handOffs.backlog(), 0, "no backlog once the workers took them");
  t.equal(
    [...got.values()].reduce((a, b) => a + b, 0),
    20,
    "every connection arrived once",
  );
  t.ok((got.get(workers[1] as Worker) ?? 0) >= 5, `the other worker took its share (${[...got.values()].join(" / ")})`);
});

t.test("hand-off queue > new sessions > go to the free worker with the fewest connections, as the workers report them", async (t) => {
  const { workers, conns } = await setUp(t, [0, 0], 4);
  const [first, second] = workers as [Worker, Worker];
  const reported = (worker: Worker, connections: number) =>
    new Promise<void>((resolve) => {
      worker.once("message", () => resolve());
      worker.send({ type: "report", connections });
    });
  const handOne = async (socket: Socket): Promise<Worker> => {
    const arrived = workers.map((w) => new Promise<Worker>((resolve) => w.once("message", () => resolve(w))));
    first.send({ type: "sticky:connection", data: NEW_SESSION }, socket);
    return Promise.race(arrived);
  };
  await reported(first, 2);
  await reported(second, 0);
  const picks: Worker[] = [];
  for (const socket of conns.server.slice(0, 3)) picks.push(await handOne(socket));
  t.same(
    picks.map((w) => w.id),
    [second.id, second.id, first.id],
    "the other worker until what it was handed since makes it hold as many (a tie goes to the first)",
  );
  await reported(first, 5);
  t.equal((await handOne(conns.server[3] as Socket)).id, second.id, "a new report counts at once");
});

t.test("hand-off queue > existing sessions > wait for their own worker", async (t) => {
  const { workers, conns } = await setUp(t, [10, 10], 10);
  const got = await handOver(workers[0] as Worker, workers, conns.server, EXISTING_SESSION);
  t.same([...got.values()], [10, 0], "all to the worker that holds the session");
});

t.test("hand-off queue > a worker dies > the connections queued for it are closed at once", async (t) => {
  const { workers, conns } = await setUp(t, [300], 10);
  const worker = workers[0] as Worker;
  for (const socket of conns.server) worker.send({ type: "sticky:connection", data: EXISTING_SESSION }, socket);
  await new Promise((r) => setTimeout(r, 100));
  const closed = conns.clients.map((client) => once(client, "close"));
  const killedAt = Date.now();
  worker.process.kill("SIGKILL");
  const allClosed = await Promise.race([Promise.all(closed).then(() => true), new Promise((r) => setTimeout(r, 3000, false))]);
  t.ok(allClosed, `every client saw its connection close (${Date.now() - killedAt} ms)`);
});
