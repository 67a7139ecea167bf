/**
 * The project's sticky routing (src/primary/router.ts and src/worker/routed-connections.ts) with
 * real cluster workers, real sockets and socket.io clients: every request of a session reaches the
 * worker that holds it, new connections go to the least loaded ready worker and never to a removed
 * one, a request's body reaches the worker whole, and the backlog counts what waits for a worker.
 */
import cluster, { type Worker } from "node:cluster";
import { once } from "node:events";
import { type AddressInfo, createServer, type Server, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { io, type Socket } from "socket.io-client";
import t, { type Test } from "tap";
import { isWorkerMessage, workerOfSession } from "../../src/lib/ipc.js";
import { createLogger } from "../../src/lib/logger.js";
import { PROJECT_ROOT } from "../../src/lib/paths.js";
import { createRouter, type Router } from "../../src/primary/router.js";
import { until } from "../helpers/until.js";

cluster.setupPrimary({ exec: join(PROJECT_ROOT, "test/helpers/routed-worker.ts"), serialization: "advanced" });

async function fork(): Promise<Worker> {
  const worker = cluster.fork();
  await new Promise<void>((resolve) => worker.on("message", (m: unknown) => isWorkerMessage(m) && m.type === "worker:ready" && resolve()));
  return worker;
}

/** A listening router with `count` ready workers; everything is closed after the test. */
async function setUp(t: Test, count: number): Promise<{ url: string; router: Router; workers: Worker[]; port: number; server: Server }> {
  const server = createServer();
  const router = createRouter(server, {
    maxBodyBytes: 100_000,
    headersTimeoutMs: 60_000,
    requestTimeoutMs: 300_000,
    log: createLogger("silent"),
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const workers: Worker[] = [];
  const clients: Socket[] = [];
  t.teardown(async () => {
    for (const client of clients) client.close();
    router.close();
    server.close();
    const running = workers.filter((w) => !w.isDead());
    for (const w of running) w.process.kill();
    await Promise.all(running.map((w) => once(w, "exit")));
  });
  // Forked together: each starts its own TypeScript loader, the slow part of a worker's start.
  workers.push(...(await Promise.all(Array.from({ length: count }, fork))));
  for (const worker of workers) router.add(worker);
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, router, workers, port, server };
}

/** Asks the socket.io client's worker who it is. */
const whoami = (socket: Socket): Promise<number> => socket.timeout(5000).emitWithAck("whoami");

async function connected(url: string, transports: ("polling" | "websocket")[]): Promise<Socket> {
  const socket = io(url, { transports, reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

t.test("router > a polling session > every request reaches the worker whose id its session id names", async (t) => {
  const { url, workers } = await setUp(t, 2);
  const sockets = await Promise.all(Array.from({ length: 4 }, () => connected(url, ["polling"])));
  t.teardown(() => {
    for (const s of sockets) s.close();
  });
  const owners = new Set<number>();
  for (const socket of sockets) {
    const owner = workerOfSession(socket.io.engine.id);
    t.ok(owner !== undefined && workers.some((w) => w.id === owner), "the session id names a worker");
    // Each ack is a new polling request (the worker closes every connection after one response).
    for (let i = 0; i < 5; i++) t.equal(await whoami(socket), owner);
    owners.add(owner as number);
  }
  t.equal(owners.size, 2, "new sessions were spread over both workers");
});

t.test("router > polling, then the WebSocket upgrade > the upgrade reaches the same worker", async (t) => {
  const { url } = await setUp(t, 2);
  for (let i = 0; i < 4; i++) {
    const socket = await connected(url, ["polling", "websocket"]);
    t.teardown(() => socket.close());
    await until(() => socket.io.engine.transport.name === "websocket", "the upgrade");
    t.equal(await whoami(socket), workerOfSession(socket.io.engine.id), `client ${i}`);
  }
});

t.test("router > a removed worker > gets no new connection, and its sessions still reach it", async (t) => {
  const { url, router, workers } = await setUp(t, 2);
  const [kept, removed] = workers as [Worker, Worker];
  const sockets: Socket[] = [];
  t.teardown(() => {
    for (const s of sockets) s.close();
  });
  let onRemoved: Socket | undefined;
  while (!onRemoved) {
    const socket = await connected(url, ["polling"]);
    sockets.push(socket);
    if ((await whoami(socket)) === removed.id) onRemoved = socket;
  }
  router.remove(removed);
  for (let i = 0; i < 6; i++) {
    const socket = await connected(url, ["websocket"]);
    sockets.push(socket);
    t.equal(await whoami(socket), kept.id, `new connection ${i} goes to the worker that is still routable`);
  }
  t.equal(await whoami(onRemoved), removed.id, "a session of the removed worker still reaches it");
});

t.test("router > a body sent in pieces > the worker gets all of it", async (t) => {
  const { port } = await setUp(t, 1);
  const body = "x".repeat(50_000);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1", async () => {
      socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
      for (let at = 0; at < body.length; at += 10_000) {
        await new Promise((r) => setTimeout(r, 20));
        socket.write(body.slice(at, at + 10_000));
      }
    });
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
  t.match(answer, /^HTTP\/1.1 200/);
  t.match(answer, `"length":${body.length}`);
});

/** A client's WebSocket text frame (clients mask theirs, RFC 6455 § 5.3). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((byte, i) => byte ^ (mask[i % 4] as number))]);
}

t.test("router > bytes that arrive once a connection was handed over > reach the worker", async (t) => {
  const { port, server } = await setUp(t, 1);
  const client = tcpConnect(port, "127.0.0.1");
  t.teardown(() => client.destroy());
  // The socket.io CONNECT packet is written the moment the primary has read the whole upgrade
  // request and handed the connection over, before the primary's event loop turns again: the
  // primary's copy of the connection must no longer read it then.
  server.once("connection", (accepted) => accepted.once("data", () => client.write(clientFrame("40"))));
  let text = "";
  client.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
  });
  client.write(
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  await until(() => text.includes('40{"sid"'), "the worker answers the CONNECT packet");
  t.match(text, /^HTTP\/1.1 101 /);
});

t.test("router > no worker ready yet > connections wait in the backlog, then go to the first one", async (t) => {
  const { url, router } = await setUp(t, 0);
  const responses = Array.from({ length: 3 }, () => fetch(`${url}/waiting`));
  while (router.backlog() < 3) await new Promise((r) => setTimeout(r, 10));
  t.equal(router.backlog(), 3);
  const worker = await fork();
  t.teardown(() => {
    worker.process.kill();
  });
  router.add(worker);
  for (const response of await Promise.all(responses)) t.same(await response.json(), { worker: worker.id, length: 0 });
  t.equal(router.backlog(), 0);
});

t.test("router > a request no worker would take > refused by the primary with its status", async (t) => {
  const { port } = await setUp(t, 1);
  const answer = (request: string) =>
    new Promise<string>((resolve) => {
      const socket = tcpConnect(port, "127.0.0.1", () => socket.write(request));
      let text = "";
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      socket.on("error", () => undefined);
      socket.on("close", () => resolve(text));
    });
  t.match(await answer("POST / HTTP/1.1\r\nContent-Length: 200000\r\n\r\n"), /^HTTP\/1.1 413 /);
  t.match(await answer("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), /^HTTP\/1.1 400 /);
  t.match(await answer(`GET / HTTP/1.1\r\nX: ${"y".repeat(20_000)}\r\n\r\n`), /^HTTP\/1.1 431 /);
});
