/**
 * Everything one e2e test file needs, started once and torn down by tap: a private redis-server,
 * the real built server (a primary and 2 workers) on it, and a headless chromium.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { api } from "../helpers/clients.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { launchBrowser, login, openPage, PASSWORD, register, socketInstance, waitConnected } from "./helpers-browser.js";

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Stack {
  redis: TestRedis;
  readonly server: TestCluster;
  browser: Browser;
  /** The server's URL (a restart keeps the port, so it stays valid). */
  readonly base: string;
  /** Stops the server (SIGTERM) and starts a new one on the same port and Redis. */
  restartServer(): Promise<void>;
  /**
   * Runs a file's top-level set-up. A throw there ends the process before tap runs any teardown,
   * so the browser, server and Redis are stopped here first: nothing outlives a failed file.
   */
  guard<T>(setUp: () => Promise<T>): Promise<T>;
}

export async function startStack(t: Teardown, env: Record<string, string> = {}): Promise<Stack> {
  // Last in, first out, like tap's teardowns: the browser closes, then the server, then Redis.
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  const guard = async <T>(setUp: () => Promise<T>): Promise<T> => {
    try {
      return await setUp();
    } catch (error) {
      await stopAll();
      throw error;
    }
  };
  return guard(async () => {
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const serverEnv = { REDIS_URL: redis.url, REDIS_PREFIX: "e2e:", SHUTDOWN_TIMEOUT_MS: "3000", ...env };
    let server = await startCluster(serverEnv);
    stops.push(() => server.stop());
    const browser = await launchBrowser();
    stops.push(() => browser.close());
    t.teardown(stopAll);
    return {
      redis,
      get server() {
        return server;
      },
      browser,
      get base() {
        return server.url;
      },
      async restartServer() {
        const { port } = new URL(server.url);
        await server.stop();
        server = await startCluster({ ...serverEnv, PORT: port });
      },
      guard,
    };
  });
}

/** Registers through the JSON API (no page, no socket) and returns the session cookie. */
export async function registerByApi(base: string, username: string): Promise<string> {
  const reply = await api(base, "/api/register", { username, password: PASSWORD });
  if (reply.status !== 200 || !reply.cookie) throw new Error(`register ${username}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.cookie;
}

/** A fresh context (a device of its own) whose page registers `username` and is connected. */
export async function registeredPage(stack: Stack, username: string): Promise<{ context: BrowserContext; page: Page }> {
  const opened = await openPage(stack.browser);
  await register(opened.page, stack.base, username);
  await waitConnected(opened.page);
  return opened;
}

/** A fresh context (a device of its own) whose page signs `username` in and is connected. */
export async function signedInPage(stack: Stack, username: string): Promise<{ context: BrowserContext; page: Page }> {
  const opened = await openPage(stack.browser);
  await login(opened.page, stack.base, username);
  await waitConnected(opened.page);
  return opened;
}

/**
 * Logs `username` in from fresh contexts until the page's socket is served by a worker other than
 * `avoid`'s. The primary routes a new connection to the worker with the fewest clients, and a
 * closed page still counts until the server notices (a polling client is only noticed by its
 * heartbeat timeout), so the rejected contexts stay open until one lands elsewhere.
 */
export async function loginOnOtherWorker(
  stack: Stack,
  username: string,
  avoid: string,
  tries = 8,
): Promise<{ context: BrowserContext; page: Page; instance: string }> {
  const rejected: BrowserContext[] = [];
  try {
    for (let attempt = 1; attempt <= tries; attempt++) {
      const { context, page } = await signedInPage(stack, username);
      const instance = await socketInstance(page);
      if (instance !== avoid) return { context, page, instance };
      rejected.push(context);
    }
  } finally {
    await Promise.all(rejected.map((context) => context.close()));
  }
  throw new Error(`${username} always landed on ${avoid}`);
}
