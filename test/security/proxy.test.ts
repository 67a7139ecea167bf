import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import t from "tap";
import { uniqueName } from "../helpers/clients.js";
import { startHaproxy } from "../helpers/haproxy.js";
import { startRedis } from "../helpers/redis.js";
import { startServer } from "../helpers/server.js";

const redis = await startRedis();
t.teardown(() => redis.stop());
// Behind one HAProxy, as docs/operations.md says to run it.
const server = await startServer(redis.url, { LOGIN_ADDRESS_RATE: "3", TRUST_PROXY: "1" });
t.teardown(() => server.stop());
const proxy = await startHaproxy([server.url]);
t.teardown(() => proxy.stop());

const login = (base: string, username: string, forwardedFor: string) =>
  fetch(`${base}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
    body: JSON.stringify({ username, password: "not the password" }),
  }).then((res) => res.status);

t.test("haproxy.cfg > started as shipped under ulimit -n 20000 > serves the chat", async (t) => {
  const res = await fetch(`${proxy.url}/healthz`);
  t.equal(res.status, 200);
});

t.test("haproxy.cfg > client sends its own X-Forwarded-For > the backend sees only the real address", async (t) => {
  let seen: IncomingHttpHeaders | undefined;
  const echo = createServer((req, res) => {
    seen = req.headers;
    res.end("ok");
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => echo.close(() => resolve())));
  const echoProxy = await startHaproxy([`http://127.0.0.1:${(echo.address() as AddressInfo).port}`]);
  t.teardown(() => echoProxy.stop());
  await fetch(`${echoProxy.url}/`, { headers: { "x-forwarded-for": "203.0.113.66, 198.51.100.1" } });
  t.equal(seen?.["x-forwarded-for"], "127.0.0.1", "set from the connection, not appended");
});

t.test(
  "login limit through haproxy > a fresh X-Forwarded-For value on every try > one address, 429 after LOGIN_ADDRESS_RATE",
  async (t) => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await login(proxy.url, uniqueName(), `198.51.100.${i + 1}`));
    t.same(statuses, [401, 401, 401, 429, 429, 429], statuses.join(" "));
  },
);

t.test("/metrics > through haproxy > 403; from a loopback scraper > 200; from elsewhere (METRICS_ALLOW) > 403", async (t) => {
  for (const path of ["/metrics", "/METRICS", "/metrics/"]) {
    t.equal((await fetch(`${proxy.url}${path}`)).status, 403, `haproxy denies ${path}`);
  }
  t.equal((await fetch(`${server.url}/metrics`)).status, 200, "loopback is allowed by default");
  const elsewhere = await startServer(redis.url, { METRICS_ALLOW: "192.0.2.0/24", TRUST_PROXY: "loopback" });
  t.teardown(() => elsewhere.stop());
  const refused = await fetch(`${elsewhere.url}/metrics`, { headers: { "x-forwarded-for": "192.0.2.7" } });
  t.equal(refused.status, 403, "a forwarded address does not count, only the connection's");
});
