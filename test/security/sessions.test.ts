import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "redis";
import t from "tap";
import { api, type ChatClient, call, connect, PASSWORD, registerUser, uniqueName } from "../helpers/clients.js";
import { startRedis } from "../helpers/redis.js";
import { startServer } from "../helpers/server.js";

const redis = await startRedis();
t.teardown(() => redis.stop());
const client = createClient({ url: redis.url });
client.on("error", () => undefined);
await client.connect();
t.teardown(() => client.close());

const server = await startServer(redis.url, {
  SESSION_IDLE_TIMEOUT: "60",
  SESSION_ABSOLUTE_TIMEOUT: "600",
  SESSION_CHECK_INTERVAL_MS: "200",
});
t.teardown(() => server.stop());

/** Resolves when the socket is told its session ended, and is disconnected. */
function ending(socket: ChatClient): Promise<unknown> {
  return Promise.all([
    new Promise<void>((resolve) => socket.once("session:ended", resolve)),
    new Promise<void>((resolve) => socket.once("disconnect", () => resolve())),
  ]);
}

/** The Redis key of the session a `name=s%3A<id>.<signature>` cookie names. */
function sessionKey(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1));
  return `${server.config.redisPrefix}sess:${value.slice(2, value.lastIndexOf("."))}`;
}

t.test("session over HTTP > requests > its Redis entry expires after the idle timeout, not the absolute one", async (t) => {
  const { cookie } = await registerUser(server.url);
  for (let i = 0; i < 3; i++) t.equal((await api(server.url, "/api/session", undefined, cookie)).status, 200);
  const ttl = await client.ttl(sessionKey(cookie));
  t.ok(ttl > 50 && ttl <= 60, `TTL ${ttl} s`);
  await client.expire(sessionKey(cookie), 20);
  await api(server.url, "/api/session", undefined, cookie);
  t.ok((await client.ttl(sessionKey(cookie))) > 50, "a request refreshes it");
});

t.test("session over HTTP > idled out in Redis > 401", async (t) => {
  const { cookie } = await registerUser(server.url);
  await client.del(sessionKey(cookie));
  t.equal((await api(server.url, "/api/session", undefined, cookie)).status, 401);
});

t.test("session on a socket > an event > refreshes the idle timeout", async (t) => {
  const { cookie } = await registerUser(server.url);
  const { socket } = await connect(server.url, cookie);
  t.teardown(() => socket.close());
  await client.expire(sessionKey(cookie), 20);
  await call(socket, "presence:list", {});
  await sleep(600);
  t.ok((await client.ttl(sessionKey(cookie))) > 50, "refreshed by the socket's activity");
});

t.test("session on a socket > idled out (gone from Redis) > the socket is told and closed", async (t) => {
  const { cookie } = await registerUser(server.url);
  const { socket } = await connect(server.url, cookie);
  t.teardown(() => socket.close());
  const ended = ending(socket);
  await client.del(sessionKey(cookie));
  await Promise.race([ended, sleep(3000).then(() => Promise.reject(new Error("no session:ended within 3 s")))]);
  t.pass("session:ended received");
});

t.test("session on a socket > someone logs in over the session > its sockets end", async (t) => {
  const { user, cookie } = await registerUser(server.url);
  const { socket } = await connect(server.url, cookie);
  t.teardown(() => socket.close());
  const ended = ending(socket);
  const relogin = await api(server.url, "/api/login", { username: user, password: PASSWORD }, cookie);
  t.equal(relogin.status, 200);
  t.not(relogin.cookie, cookie, "a new session");
  await Promise.race([ended, sleep(3000).then(() => Promise.reject(new Error("socket still open after 3 s")))]);
  t.pass("the old session's socket ended");
});

t.test("session on a socket > past the absolute timeout > ends though its client stays busy, and HTTP gets 401", async (t) => {
  const { cookie } = await registerUser(server.url);
  // Backdate the login so that the absolute timeout (600 s) falls 1.5 s from now.
  const key = sessionKey(cookie);
  const data = JSON.parse((await client.get(key)) ?? "{}") as { createdAt: number };
  data.createdAt = Date.now() - 600_000 + 1_500;
  await client.set(key, JSON.stringify(data), { expiration: "KEEPTTL" });
  const { socket } = await connect(server.url, cookie);
  t.teardown(() => socket.close());
  const ended = ending(socket);
  const busy = setInterval(() => socket.emit("presence:list", {}, () => undefined), 100);
  t.teardown(() => clearInterval(busy));
  await Promise.race([ended, sleep(5000).then(() => Promise.reject(new Error("socket still open 5 s later")))]);
  t.pass("session:ended received at the absolute timeout");
  t.equal((await api(server.url, "/api/session", undefined, cookie)).status, 401, "the session is gone");
});

t.test("registration > weak passwords > 400 E_INVALID; a long uncommon one > 200", async (t) => {
  const username = uniqueName();
  for (const password of ["elevenchars", "password1234", "qwertyuiop123!", "1q2w3e4r5t6y", "aaaaaaaaaaaaaaaa", `my name is ${username}`]) {
    const reply = await api(server.url, "/api/register", { username, password });
    t.equal(reply.status, 400, password);
    t.match(reply.body, { error: { code: "E_INVALID" } });
  }
  t.equal((await api(server.url, "/api/register", { username, password: PASSWORD })).status, 200);
});
