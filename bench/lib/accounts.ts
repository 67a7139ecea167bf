/**
 * Logs benchmark users in through the real JSON API (POST /api/register, else /api/login), so the
 * sockets carry a genuine session cookie. Password hashing is deliberately slow (scrypt), which
 * is why the harness registers each user once per run and lets many sockets share one session.
 */
import { request } from "node:http";

export interface Account {
  user: string;
  /** "name=value" of the session cookie, ready for a Cookie header. */
  cookie: string;
}

export const BENCH_PASSWORD = "bench-password-1";

interface Reply {
  status: number;
  cookie: string | undefined;
  body: string;
}

function postJson(url: string, body: unknown, localAddress: string): Promise<Reply> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        localAddress,
        timeout: 60_000,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload), accept: "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const setCookie = res.headers["set-cookie"]?.[0];
          resolve({ status: res.statusCode ?? 0, cookie: setCookie?.split(";")[0], body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`POST ${url} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Registers the user, or logs in when the name is taken (409). */
export async function logIn(baseUrl: string, user: string, localAddress = "127.0.0.1"): Promise<Account> {
  const credentials = { username: user, password: BENCH_PASSWORD };
  let reply = await postJson(`${baseUrl}/api/register`, credentials, localAddress);
  if (reply.status === 409) reply = await postJson(`${baseUrl}/api/login`, credentials, localAddress);
  if (reply.status !== 200 || !reply.cookie) {
    throw new Error(`cannot log in ${user}: HTTP ${reply.status} ${reply.body.slice(0, 200)}`);
  }
  return { user, cookie: reply.cookie };
}

/** Logs in every name with bounded concurrency (scrypt runs on the server's libuv pool). */
export async function logInAll(
  baseUrl: string,
  users: readonly string[],
  options: { concurrency?: number; localAddress?: (i: number) => string; onProgress?: (done: number) => void } = {},
): Promise<Account[]> {
  const out: Account[] = new Array(users.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < users.length) {
      const i = next++;
      out[i] = await logIn(baseUrl, users[i] as string, options.localAddress?.(i) ?? "127.0.0.1");
      options.onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, users.length) }, worker));
  return out;
}

export function userName(i: number): string {
  return `bench${String(i).padStart(5, "0")}`;
}
