import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { connect as connectTcp } from "node:net";
import { setImmediate as nextTurn } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import t from "tap";
import { assertEngineIoLine, ENGINE_IO_LINE, installedEngineIoVersion } from "../../src/realtime/upgrade-request.js";
import { api, connect, PASSWORD, registerUser, settle, uniqueName } from "../helpers/clients.js";
import { chatPair } from "../helpers/pair.js";
import { startServer } from "../helpers/server.js";

// `other`: a second worker on the same Redis and prefix, as in a cluster.
const { redis, a: server, b: other } = await chatPair(t);

t.test("POST /api/register > new name > 200 with user and session cookie", async (t) => {
  const username = uniqueName();
  const reply = await api(server.url, "/api/register", { username, password: PASSWORD });
  t.equal(reply.status, 200);
  t.same(reply.body, { user: username });
  t.match(reply.cookie, /^jsessionid=/);
  const session = await api(server.url, "/api/session", undefined, reply.cookie);
  t.same(session.body, { user: username });
});

t.test("POST /api/register > name taken in another case > 409 E_CONFLICT", async (t) => {
  const { user } = await registerUser(server.url);
  const reply = await api(server.url, "/api/register", { username: user.toUpperCase(), password: PASSWORD });
  t.equal(reply.status, 409);
  t.match(reply.body, { error: { code: "E_CONFLICT" } });
});

t.test("POST /api/register > bad username or password > 400 E_INVALID", async (t) => {
  for (const body of [
    { username: "ab", password: PASSWORD },
    { username: "has space", password: PASSWORD },
    { username: "x".repeat(33), password: PASSWORD },
    { username: uniqueName(), password: "short" },
    { username: uniqueName(), password: "p".repeat(129) },
    { username: 42, password: PASSWORD },
  ]) {
    const reply = await api(server.url, "/api/register", body);
    t.equal(reply.status, 400, JSON.stringify(body));
    t.match(reply.body, { error: { code: "E_INVALID" } });
  }
});

t.test("POST /api/login > right password > 200 and a new session id", async (t) => {
  const { user, cookie: first } = await registerUser(server.url);
  const reply = await api(server.url, "/api/login", { username: user, password: PASSWORD });
  t.equal(reply.status, 200);
  t.same(reply.body, { user });
  t.not(reply.cookie, first, "session id regenerated at login");
});

t.test("POST /api/login > wrong password or unknown user > 401 with one generic message", async (t) => {
  const { user } = await registerUser(server.url);
  const wrong = await api(server.url, "/api/login", { username: user, password: "wrong password" });
  const unknown = await api(server.url, "/api/login", { username: uniqueName(), password: PASSWORD });
  t.equal(wrong.status, 401);
  t.equal(unknown.status, 401);
  t.same(wrong.body, { error: { code: "E_UNAUTHORIZED", message: "invalid username or password" } });
  t.same(unknown.body, wrong.body, "no user enumeration");
});

t.test("POST /api/login > too many failures > 429 E_RATE_LIMITED", async (t) => {
  const strict = await startServer(redis, { LOGIN_RATE: "3" });
  t.teardown(() => strict.stop());
  const { user } = await registerUser(strict.url);
  for (let i = 0; i < 3; i++) await api(strict.url, "/api/login", { username: user, password: "wrong password" });
  const reply = await api(strict.url, "/api/login", { username: user, password: PASSWORD });
  t.equal(reply.status, 429);
  t.match(reply.body, { error: { code: "E_RATE_LIMITED" } });
  t.ok(reply.headers.get("retry-after"));
});

t.test("POST /api/login > not JSON > 400 E_INVALID", async (t) => {
  const res = await fetch(`${server.url}/api/login`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" });
  t.equal(res.status, 400);
  t.match(await res.json(), { error: { code: "E_INVALID" } });
  const bad = await fetch(`${server.url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
  t.equal(bad.status, 400);
});

t.test("GET / > with the session cookie (a refresh) > chat page on any worker", async (t) => {
  const { user, cookie } = await registerUser(server.url);
  for (const base of [server.url, other.url]) {
    const res = await fetch(`${base}/`, { headers: { cookie }, redirect: "manual" });
    t.equal(res.status, 200);
    const html = await res.text();
    t.match(html, user);
    t.match(html, /Served by|from/);
  }
});

t.test("GET / > without a session > 302 to /login", async (t) => {
  const res = await fetch(`${server.url}/`, { redirect: "manual" });
  t.equal(res.status, 302);
  t.equal(res.headers.get("location"), "/login");
});

t.test("POST /login form > good credentials > 303 to / and logged in", async (t) => {
  const { user } = await registerUser(server.url);
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
    body: new URLSearchParams({ username: user, password: PASSWORD }),
    redirect: "manual",
  });
  t.equal(res.status, 303);
  t.equal(res.headers.get("location"), "/");
  const cookie = res.headers.get("set-cookie")?.split(";")[0];
  const session = await api(server.url, "/api/session", undefined, cookie);
  t.same(session.body, { user });
});

t.test("POST /login form > wrong password > 401 page with the error", async (t) => {
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: uniqueName(), password: "wrong password" }),
  });
  t.equal(res.status, 401);
  t.match(await res.text(), "invalid username or password");
});

t.test("POST from another site > 403 E_FORBIDDEN", async (t) => {
  const res = await fetch(`${server.url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: "https://evil.example", "sec-fetch-site": "cross-site" },
    body: JSON.stringify({ username: "someone", password: PASSWORD }),
  });
  t.equal(res.status, 403);
});

t.test("WebSocket upgrade from another site > engine.io's refusal reaches the client", async (t) => {
  const { hostname, port } = new URL(server.url);
  const socket = connectTcp(Number(port), hostname);
  t.teardown(() => socket.destroy());
  let answer = "";
  socket.setEncoding("latin1").on("data", (chunk: string) => {
    answer += chunk;
  });
  await once(socket, "connect");
  socket.write(
    [
      "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
      `Host: ${hostname}:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      "Origin: https://evil.example",
      "Sec-Fetch-Site: cross-site",
      "",
      "",
    ].join("\r\n"),
  );
  await once(socket, "close");
  t.match(answer, /^HTTP\/1\.1 400 /, "an HTTP answer, not a bare reset");
  t.match(answer, "origin not allowed");
});

t.test("POST /api/logout > session destroyed > the cookie no longer works", async (t) => {
  const { cookie } = await registerUser(server.url);
  const reply = await api(server.url, "/api/logout", {}, cookie);
  t.equal(reply.status, 200);
  const session = await api(server.url, "/api/session", undefined, cookie);
  t.equal(session.status, 401);
});

t.test("socket.io > no session > connect_error unauthorized and no retry", async (t) => {
  const err = await connect(server.url, undefined, { reconnection: true }).then(
    () => undefined,
    (e: Error) => e,
  );
  t.equal(err?.message, "unauthorized");
  const forged = await connect(server.url, "jsessionid=s%3Aforged.signature", { reconnection: true }).then(
    () => undefined,
    (e: Error) => e,
  );
  t.equal(forged?.message, "unauthorized");
});

t.test("socket.io > logged in > welcome with user, instance and #general", async (t) => {
  const { user, cookie } = await registerUser(server.url);
  const { socket, welcome } = await connect(server.url, cookie);
  t.teardown(() => socket.close());
  t.equal(welcome.user, user);
  t.equal(welcome.instance, server.worker.instance);
  t.same(welcome.rooms, ["#general"]);
});

for (const transports of [["websocket"], ["polling", "websocket"]] as ("polling" | "websocket")[][]) {
  t.test(
    `socket.io > logged in over ${transports.join(" then ")} > the worker keeps no request or headers while the socket lives`,
    async (t) => {
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as () => void;
      const requests: WeakRef<object>[] = [];
      // The WebSocket upgrade too: engine.io's upgrade stand-in would keep it (upgrade-request.ts).
      const remember = (req: IncomingMessage) => {
        if (req.url?.startsWith("/socket.io/")) requests.push(new WeakRef(req), new WeakRef(req.headers));
      };
      server.worker.server.prependListener("request", remember);
      server.worker.server.prependListener("upgrade", remember);
      t.teardown(() => {
        server.worker.server.off("request", remember);
        server.worker.server.off("upgrade", remember);
      });
      const { cookie } = await registerUser(server.url);
      const { socket } = await connect(server.url, cookie, { transports });
      t.teardown(() => socket.close());
      await settle(() => socket.io.engine.transport.name === "websocket");
      t.ok(requests.length >= 2 * transports.length, "the handshake and the upgrade were seen");
      for (let i = 0; i < 3; i++) {
        await nextTurn();
        gc();
      }
      t.equal(requests.filter((ref) => ref.deref() !== undefined).length, 0, "every request and its headers were collected");
      t.equal(server.worker.realtime.io.of("/").sockets.size >= 1, true, "while the socket is connected");
    },
  );
}

t.test("engine.io line > the start-up check > accepts the installed version and refuses another line", async (t) => {
  t.ok(installedEngineIoVersion().startsWith(ENGINE_IO_LINE), `installed ${installedEngineIoVersion()}`);
  t.doesNotThrow(() => assertEngineIoLine());
  t.throws(() => assertEngineIoLine("6.7.0"), /engine\.io 6\.7\.0 is installed/);
});

t.test("socket.io > reconnecting with lastIds > the worker does not keep them once read", async (t) => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const auths: WeakRef<object>[] = [];
  let watching = true; // socket.io middlewares cannot be removed: this one stops counting instead
  t.teardown(() => {
    watching = false;
  });
  server.worker.realtime.io.use((socket, next) => {
    if (watching) auths.push(new WeakRef(socket.handshake.auth));
    next();
  });
  const { cookie } = await registerUser(server.url);
  const lastIds = { "#general": "1-0", "#elsewhere": "2-0" };
  const { socket, welcome } = await connect(server.url, cookie, { lastIds });
  t.teardown(() => socket.close());
  t.same(welcome.rooms, ["#general"]);
  for (let i = 0; i < 3; i++) {
    await nextTurn();
    gc();
  }
  t.equal(auths.length, 1, "one handshake seen");
  t.equal(auths[0]?.deref(), undefined, "its auth payload was collected while the socket is connected");
  t.ok(socket.connected);
});

t.test("logout > sockets of that session on every worker > session:ended then disconnected", async (t) => {
  const { cookie } = await registerUser(server.url);
  const a = await connect(server.url, cookie);
  const b = await connect(other.url, cookie);
  const events: string[] = [];
  for (const { socket } of [a, b]) {
    socket.on("session:ended", () => events.push("ended"));
    socket.on("disconnect", (reason) => events.push(`disconnect:${reason}`));
  }
  await api(server.url, "/api/logout", {}, cookie);
  await settle(() => events.length === 4);
  t.same(events.filter((e) => e === "ended").length, 2);
  t.same(events.filter((e) => e === "disconnect:io server disconnect").length, 2);
  t.ok(events.indexOf("ended") < events.indexOf("disconnect:io server disconnect"));
});

t.test("GET /healthz and /readyz > serving > 200", async (t) => {
  t.equal((await fetch(`${server.url}/healthz`)).status, 200);
  t.equal((await fetch(`${server.url}/readyz`)).status, 200);
});
