import type { Test } from "tap";
import { type ChatClient, type Connected, type ConnectOptions, connect, join, registerUser } from "./clients.js";
import { type RedisUnderTest, startRedisUnderTest } from "./redis.js";
import { startServer, type TestServer } from "./server.js";

/** A user registered afresh, with one socket connected. */
export interface SuiteUser extends Connected {
  user: string;
  cookie: string;
}

/** The sockets a suite opens, every one closed at its teardown. */
export interface SuiteClients {
  /** Connects with a session cookie (see `connect`) and keeps the socket. */
  connect(server: { url: string }, cookie: string, options?: ConnectOptions): Promise<Connected>;
  /** Keeps sockets opened some other way. */
  keep(...sockets: ChatClient[]): void;
  /** Registers a fresh user on `server` and connects one socket there. */
  user(server: { url: string }): Promise<SuiteUser>;
}

/** Sockets kept through it are closed by `t`'s teardown, so a failed test leaves none open. */
export function suiteClients(t: Pick<Test, "teardown">): SuiteClients {
  const sockets: ChatClient[] = [];
  t.teardown(() => {
    for (const socket of sockets) socket.close();
  });
  const keep = (...more: ChatClient[]) => {
    sockets.push(...more);
  };
  const open = async (server: { url: string }, cookie: string, options?: ConnectOptions) => {
    const connected = await connect(server.url, cookie, options);
    keep(connected.socket);
    return connected;
  };
  const user = async (server: { url: string }) => {
    const { user, cookie } = await registerUser(server.url);
    return { user, cookie, ...(await open(server, cookie)) };
  };
  return { connect: open, keep, user };
}

/** Two workers on one Redis and one prefix, as two workers of a cluster or two hosts behind a balancer. */
export interface ServerPair extends SuiteClients {
  a: TestServer;
  b: TestServer;
  /** Registers a fresh user on `server` (worker a by default) and connects one socket there. */
  user(server?: { url: string }): Promise<SuiteUser>;
  /** Alice, a fresh user on worker a, and Bob, one on worker b, both joined to `room`. */
  twoInRoom(room: string): Promise<{ alice: SuiteUser; bob: SuiteUser }>;
}

/**
 * Two workers on `redis` sharing a prefix, both with `env`. `t`'s teardown closes the sockets the
 * pair opened, then stops the workers.
 */
export async function serverPair(
  t: Pick<Test, "teardown">,
  redis: { env: Record<string, string> },
  env: Record<string, string> = {},
): Promise<ServerPair> {
  const a = await startServer(redis, env);
  const b = await startServer(redis, { ...env, REDIS_PREFIX: a.config.redisPrefix });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  const clients = suiteClients(t);
  const twoInRoom = async (room: string) => {
    const [alice, bob] = [await clients.user(a), await clients.user(b)];
    await join(alice.socket, room);
    await join(bob.socket, room);
    return { alice, bob };
  };
  return { a, b, ...clients, user: (server = a) => clients.user(server), twoInRoom };
}

/** A server pair on a Redis of its own. */
export interface ChatPair extends ServerPair {
  redis: RedisUnderTest;
}

/**
 * A server pair (see `serverPair`) on the Redis of `startRedisUnderTest`: standalone, or a cluster
 * under CHAT_TEST_REDIS=cluster. `t`'s teardown stops that Redis last.
 */
export async function chatPair(t: Pick<Test, "teardown">, env: Record<string, string> = {}): Promise<ChatPair> {
  const redis = await startRedisUnderTest();
  t.teardown(() => redis.stop());
  return { redis, ...(await serverPair(t, redis, env)) };
}
