import { randomUUID } from "node:crypto";
import { connect as connectTcp } from "node:net";
import t from "tap";
import { ERROR_CODES } from "../../src/lib/error-codes.js";
import type { Message } from "../../src/realtime/events.js";
import { call, connect, registerUser, send, settle } from "../helpers/clients.js";
import { alive, pidOf, startCluster } from "../helpers/cluster.js";
import { startRedis } from "../helpers/redis.js";

/**
 * Random and malformed input at every HTTP route and socket event of a real cluster, bounded in
 * count and time. Reproduce a run with FUZZ_SEED=<the seed it printed>.
 */
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const HTTP_CASES = 250;
const SOCKET_CASES = 500;
/** Each phase stops at its count or its time, whichever comes first (the machine may be busy). */
const HTTP_BUDGET_MS = 20_000;
const SOCKET_BUDGET_MS = 25_000;

const redis = await startRedis();
t.teardown(() => redis.stop());
const cluster = await startCluster({ REDIS_URL: redis.url, REDIS_PREFIX: "fuzz:", SHUTDOWN_TIMEOUT_MS: "3000" });
t.teardown(() => cluster.stop());
t.comment(`FUZZ_SEED=${SEED}`);

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  return { next, int, pick };
}
const rnd = generator(SEED);

const STRINGS = [
  "",
  " ",
  "#",
  "@",
  "#general",
  "@nobody",
  "#a",
  `#${"x".repeat(33)}`,
  "null",
  "0",
  "-1",
  "1-0",
  "99999999999999-0",
  "<script>",
  "\u0000",
  "\ud800",
  "💬",
  "%00",
  "../..",
  "__proto__",
  "constructor",
];

function randomString(): string {
  switch (rnd.int(5)) {
    case 0:
      return rnd.pick(STRINGS);
    case 1:
      return "x".repeat(rnd.pick([1, 100, 5000, 20_000]));
    case 2:
      return String.fromCharCode(...Array.from({ length: rnd.int(40) }, () => rnd.int(0xffff)));
    case 3:
      return `${rnd.pick(["#", "@", ""])}${randomUUID().slice(0, rnd.int(36))}`;
    default:
      return randomUUID();
  }
}

function deep(levels: number): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < levels; i++) value = rnd.next() < 0.5 ? [value] : { [rnd.pick(["room", "to", "text"])]: value };
  return value;
}

function randomValue(depth = 0): unknown {
  switch (rnd.int(depth > 2 ? 7 : 10)) {
    case 0:
      return null;
    case 1:
      return rnd.next() < 0.5;
    case 2:
      return rnd.pick([0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308, Number.NaN]);
    case 3:
    case 4:
      return randomString();
    case 5:
      return Buffer.from(Array.from({ length: rnd.int(64) }, () => rnd.int(256)));
    case 6:
      return deep(rnd.pick([10, 100, 1000]));
    case 7:
      return Array.from({ length: rnd.int(5) }, () => randomValue(depth + 1));
    default: {
      const keys = [
        "room",
        "to",
        "text",
        "clientId",
        "conversation",
        "id",
        "before",
        "after",
        "limit",
        "cursor",
        "__proto__",
        "constructor",
      ];
      return Object.fromEntries(Array.from({ length: rnd.int(6) }, () => [rnd.pick(keys), randomValue(depth + 1)]));
    }
  }
}

/** A payload close to a valid one with one field spoiled: reaches deeper into the handlers. */
function nearlyValid(event: string): unknown {
  const valid: Record<string, Record<string, unknown>> = {
    "room:join": { room: "#fuzz" },
    "room:leave": { room: "#fuzz" },
    "message:send": { to: "#general", text: "fuzz", clientId: randomUUID() },
    "history:fetch": { conversation: "#general", limit: 5 },
    "rooms:list": { limit: 3 },
    "presence:list": {},
    typing: { to: "#general" },
    "message:edit": { conversation: "#general", id: "1-0", text: "fuzz", clientId: randomUUID() },
    "message:delete": { conversation: "#general", id: "1-0", clientId: randomUUID() },
  };
  const payload = { ...(valid[event] ?? {}) };
  const keys = Object.keys(payload);
  const key = keys.length > 0 && rnd.next() < 0.8 ? rnd.pick(keys) : rnd.pick(["before", "after", "cursor", "limit", "extra"]);
  payload[key] = randomValue(1);
  return payload;
}

const EVENTS = [
  "room:join",
  "room:leave",
  "message:send",
  "message:edit",
  "message:delete",
  "history:fetch",
  "rooms:list",
  "presence:list",
  "typing",
];
const known = new Set<string>(ERROR_CODES);
const started = Date.now();
const within = (budgetMs: number) => {
  const phaseStart = Date.now();
  return () => Date.now() - phaseStart < budgetMs;
};

// The canary: a user who keeps chatting with a friend while the fuzzing goes on.
const canary = await registerUser(cluster.url, "canary");
const friend = await registerUser(cluster.url, "friend");
const canarySocket = (await connect(cluster.url, canary.cookie, { reconnection: true })).socket;
const friendSocket = (await connect(cluster.url, friend.cookie, { reconnection: true })).socket;
t.teardown(() => {
  canarySocket.close();
  friendSocket.close();
});
const heard: Message[] = [];
friendSocket.on("message:new", (message) => {
  if (message.from === canary.user) heard.push(message);
});
const canaryTexts: string[] = [];
async function canarySpeaks(): Promise<void> {
  const text = `canary ${canaryTexts.length}`;
  canaryTexts.push(text);
  await send(canarySocket, "#general", text);
}

const workerPids = new Set<number>();
for (const line of cluster.logs) if (line.msg === "worker ready" && typeof line.instance === "string") workerPids.add(pidOf(line.instance));

t.test("fuzz > HTTP routes > no 5xx but 503, JSON errors carry documented codes", async (t) => {
  const fuzzer = await registerUser(cluster.url, "fz");
  const routes = [
    "/",
    "/login",
    "/register",
    "/logout",
    "/api/register",
    "/api/login",
    "/api/logout",
    "/api/session",
    "/healthz",
    "/readyz",
    "/static/js/chat.js",
    "/socket.io/?EIO=4&transport=polling",
    "/nope",
    "/%2e%2e/etc/passwd",
    "/api/%ff",
  ];
  const cookies = [
    fuzzer.cookie,
    "",
    "jsessionid=s%3A%%%",
    `jsessionid=${"a".repeat(4000)}`,
    "jsessionid=s%3Aabc.def; jsessionid=x",
    "=;=;=",
    `${fuzzer.cookie}; ${"b=1; ".repeat(200)}`,
  ];
  const types = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/json; charset=utf-16",
    "multipart/form-data; boundary=x",
    "",
  ];
  const inBudget = within(HTTP_BUDGET_MS);
  let cases = 0;
  for (; cases < HTTP_CASES && inBudget(); cases++) {
    const path = rnd.pick(routes);
    const method = rnd.pick(["GET", "POST", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"]);
    const headers: Record<string, string> = {};
    const cookie = rnd.pick(cookies);
    if (cookie) headers.cookie = cookie;
    const type = rnd.pick(types);
    if (type) headers["content-type"] = type;
    if (rnd.next() < 0.2) headers.origin = rnd.pick(["http://evil.example", "null", cluster.url]);
    let body: string | Buffer | undefined;
    if (method !== "GET" && method !== "HEAD") {
      const value = randomValue();
      body = Buffer.isBuffer(value) ? value : rnd.next() < 0.8 ? (JSON.stringify(value) ?? "") : String(value).slice(0, 30_000);
    }
    const label = `${method} ${path} (${type || "no type"}, ${body === undefined ? 0 : body.length} bytes)`;
    const res = await fetch(`${cluster.url}${path}`, {
      method,
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(5000),
    }).catch((err: Error) => err);
    if (res instanceof Error) {
      t.fail(`${label}: no answer (${res.message})`);
      continue;
    }
    const text = await res.text();
    if (res.status >= 500 && res.status !== 503) t.fail(`${label}: ${res.status} ${text.slice(0, 200)}`);
    if (method !== "HEAD" && res.headers.get("content-type")?.includes("application/json") && res.status >= 400) {
      const reply = JSON.parse(text) as { error?: { code?: string }; code?: number };
      // engine.io answers its own path with its protocol's numeric codes (0-5).
      const documented = path.startsWith("/socket.io/") ? Number.isInteger(reply.code) : known.has(reply.error?.code ?? "");
      if (!documented) t.fail(`${label}: undocumented error ${text.slice(0, 200)}`);
    }
    if (cases % 50 === 0) await canarySpeaks();
  }
  // Requests no fetch would send.
  for (const raw of [
    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
    "POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n",
    "GET /\u0000 HTTP/1.1\r\nHost: x\r\n\r\n",
    `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"h".repeat(20_000)}\r\n\r\n`,
    "BREW /pot HTCPCP/1.0\r\n\r\n",
  ]) {
    const status = await rawStatus(raw);
    t.ok(status === undefined || status < 500, `raw ${JSON.stringify(raw.slice(0, 40))}: ${status ?? "closed"}`);
  }
  t.ok(cases >= 20, `${cases} HTTP cases`);
});

t.test("fuzz > socket events > every ack is the envelope with a documented code", async (t) => {
  const fuzzer = await registerUser(cluster.url, "fs");
  let connected = await connect(cluster.url, fuzzer.cookie, { reconnection: true });
  const inBudget = within(SOCKET_BUDGET_MS);
  let cases = 0;
  let answered = 0;
  for (; cases < SOCKET_CASES && inBudget(); cases++) {
    const socket = connected.socket;
    if (!socket.connected) {
      // An oversized packet makes the server close the transport, as it should: start again.
      socket.close();
      connected = await connect(cluster.url, fuzzer.cookie, { reconnection: true });
      continue;
    }
    const roll = rnd.next();
    const event = roll < 0.1 ? randomString().slice(0, 60) || "x" : rnd.pick(EVENTS);
    const payload = rnd.next() < 0.5 ? nearlyValid(event) : randomValue();
    if (event === "typing" || rnd.next() < 0.05) {
      (socket as unknown as { emit(e: string, ...args: unknown[]): void }).emit(event, payload);
      continue;
    }
    const ack = await call<unknown>(socket, event, payload, 5000).catch((err: Error) => err);
    if (ack instanceof Error) {
      // Only a closed transport may leave an event unanswered.
      if (socket.connected) t.fail(`${event}: no ack (${ack.message})`);
      continue;
    }
    answered++;
    const envelope = ack as { ok?: unknown; data?: unknown; error?: { code?: string; message?: unknown } };
    const fine =
      (envelope.ok === true && envelope.data !== undefined) ||
      (envelope.ok === false &&
        known.has(envelope.error?.code ?? "") &&
        typeof envelope.error?.message === "string" &&
        envelope.error.code !== "E_INTERNAL");
    if (!fine) t.fail(`${event} ${JSON.stringify(payload)?.slice(0, 120)}: ${JSON.stringify(ack).slice(0, 200)}`);
    if (cases % 50 === 0) await canarySpeaks();
  }
  connected.socket.close();
  t.ok(answered >= 20, `${answered} of ${cases} socket cases answered`);
});

t.test("fuzz > malformed socket.io packets over polling > refused, nothing else breaks", async (t) => {
  const fuzzer = await registerUser(cluster.url, "fp");
  const open = await fetch(`${cluster.url}/socket.io/?EIO=4&transport=polling`, { headers: { cookie: fuzzer.cookie } });
  const sid = /"sid":"([^"]+)"/.exec(await open.text())?.[1];
  t.ok(sid, "engine.io session opened");
  const packets = [
    "40",
    '42["room:join"',
    '42[{"a":1}]',
    "4x",
    '42["message:send",{"to":"#general"},',
    '451-["room:join",{"_placeholder":true,"num":99}]',
    "9",
    `42${"[".repeat(5000)}`,
    "2probe",
    "6",
  ];
  for (const packet of packets) {
    const res = await fetch(`${cluster.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      method: "POST",
      headers: { cookie: fuzzer.cookie, "content-type": "text/plain;charset=UTF-8" },
      body: packet,
    });
    t.ok(res.status < 500, `${JSON.stringify(packet.slice(0, 30))}: ${res.status}`);
  }
});

t.test("fuzz > afterwards > no worker exited, no internal error, the canary was heard every time", async (t) => {
  await canarySpeaks();
  await settle(() => heard.length >= canaryTexts.length, 10_000, 300);
  t.same(
    heard.map((m) => m.text),
    canaryTexts,
    "every canary message, once, in order",
  );
  const ack = await call<{ users: string[] }>(canarySocket, "presence:list", {});
  t.ok(ack.ok, "the canary still chats");
  t.ok(workerPids.size >= 2, `workers ${[...workerPids].join(", ")}`);
  for (const pid of workerPids) t.ok(alive(pid), `worker ${pid} alive`);
  const respawns = cluster.logs.filter((line) => line.msg === "worker ready" && line.workerId !== undefined).length;
  t.equal(respawns, 2, "no worker was replaced");
  const internal = cluster.logs.filter((line) =>
    ["request failed", "socket handler failed", "worker crashed", "unhandled rejection in worker"].includes(line.msg ?? ""),
  );
  t.same(
    internal.map((line) => line.msg),
    [],
    "no internal error logged",
  );
  t.ok(Date.now() - started < 60_000, `fuzzing took ${Date.now() - started} ms`);
});

/** Sends raw bytes and returns the status of the reply, or undefined if the connection closed without one. */
function rawStatus(request: string): Promise<number | undefined> {
  const { hostname, port } = new URL(cluster.url);
  return new Promise((resolve) => {
    const socket = connectTcp(Number(port), hostname);
    let text = "";
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve(match ? Number(match[1]) : undefined);
    };
    const timer = setTimeout(done, 5000);
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      if (/^HTTP\/1\.[01] \d{3}/.test(text)) done();
    });
    socket.on("error", done);
    socket.on("close", done);
    socket.on("connect", () => socket.write(request, "latin1"));
  });
}
