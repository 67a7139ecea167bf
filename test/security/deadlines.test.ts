import { connect } from "node:net";
import t from "tap";
import { startCluster } from "../helpers/cluster.js";
import { startRedis } from "../helpers/redis.js";

// A real cluster: the workers never listen, the primary hands them their connections.
const redis = await startRedis();
t.teardown(() => redis.stop());
const cluster = await startCluster({
  REDIS_URL: redis.url,
  REDIS_PREFIX: "deadlines:",
  HTTP_HEADERS_TIMEOUT_MS: "1000",
  HTTP_REQUEST_TIMEOUT_MS: "2000",
  SHUTDOWN_TIMEOUT_MS: "3000",
});
t.teardown(() => cluster.stop());
const { hostname, port } = new URL(cluster.url);

interface RawReply {
  text: string;
  /** Milliseconds from the first write until the server closed the connection. */
  closedAfterMs: number;
}

/** Writes `chunks` on a raw TCP connection and waits (at most `giveUpMs`) for the server to close it. */
function raw(chunks: (string | Buffer)[], giveUpMs = 8000): Promise<RawReply | "still open"> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const started = Date.now();
    let text = "";
    const giveUp = setTimeout(() => {
      socket.destroy();
      resolve("still open");
    }, giveUpMs);
    socket.on("data", (data) => {
      text += data.toString("latin1");
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "ECONNRESET" && err.code !== "EPIPE") reject(err);
    });
    socket.on("close", () => {
      clearTimeout(giveUp);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
    socket.on("connect", () => {
      for (const chunk of chunks) socket.write(chunk);
    });
  });
}

t.test("worker connection > half a request head > 408 and closed after HTTP_HEADERS_TIMEOUT_MS", async (t) => {
  const reply = await raw([`GET / HTTP/1.1\r\nHost: ${hostname}\r\nX-Slow: `]);
  if (reply === "still open") return t.fail("the connection was still open after 8 s");
  t.match(reply.text, /^HTTP\/1\.1 408/);
  t.ok(reply.closedAfterMs >= 900 && reply.closedAfterMs < 6000, `closed after ${reply.closedAfterMs} ms`);
});

t.test("worker connection > body never finished > 408 and closed after HTTP_REQUEST_TIMEOUT_MS", async (t) => {
  const head = `POST /api/login HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
  const reply = await raw([`${head}{"username":`]);
  if (reply === "still open") return t.fail("the connection was still open after 8 s");
  t.match(reply.text, /^HTTP\/1\.1 408/);
  t.ok(reply.closedAfterMs >= 1500 && reply.closedAfterMs < 7000, `closed after ${reply.closedAfterMs} ms`);
});

t.test("worker connection > Content-Length of 20 MB > 413 E_TOO_LONG before the body is sent", async (t) => {
  const head = `POST /api/login HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\n\r\n`;
  const reply = await raw([head, Buffer.alloc(1024, 0x20)], 5000);
  if (reply === "still open") return t.fail("no answer while the body was still to come");
  t.match(reply.text, /^HTTP\/1\.1 413/);
  t.match(reply.text, /"code":"E_TOO_LONG"/);
  t.ok(reply.closedAfterMs < 900, `answered and closed after ${reply.closedAfterMs} ms, before any deadline`);
});

t.test("worker connection > a normal request > unaffected", async (t) => {
  const res = await fetch(`${cluster.url}/healthz`);
  t.equal(res.status, 200);
  const login = await fetch(`${cluster.url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "nobody", password: "not the password" }),
  });
  t.equal(login.status, 401);
});
