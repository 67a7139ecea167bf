/**
 * The benchmark's users for the project's server, registered through the real API once and kept
 * as a Redis snapshot (accounts + sessions + the generated session secret). Every run restores
 * it into a fresh redis-server, so each run starts from the same state without paying scrypt
 * again. The snapshot is cached in the temp dir and re-validated before reuse.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Account, logInAll, userName } from "../lib/accounts.js";
import { startRedis } from "../lib/redis-server.js";
import { httpStatus, startTarget } from "../lib/target.js";
import { type Golden, REDIS_PREFIX } from "./harness.js";

const CACHE = join(tmpdir(), "chat-bench-users");

/** Whether the cached sessions still log in on the current build of the server. */
async function valid(rdb: string, accounts: Account[]): Promise<boolean> {
  const redis = await startRedis({ rdb });
  try {
    const target = await startTarget({ kind: "ours", workers: 1, redisUrl: redis.url, redisPrefix: REDIS_PREFIX });
    try {
      for (const account of [accounts[0], accounts[accounts.length - 1]]) {
        if (!account || (await httpStatus(`${target.url}/api/session`, { cookie: account.cookie })) !== 200) return false;
      }
      return true;
    } finally {
      await target.stop();
    }
  } finally {
    await redis.stop();
  }
}

export async function prepareUsers(count: number, log: (line: string) => void, fresh: boolean): Promise<Golden> {
  mkdirSync(CACHE, { recursive: true });
  const rdb = join(CACHE, `users-${count}.rdb`);
  const meta = join(CACHE, `users-${count}.json`);
  if (!fresh && existsSync(rdb) && existsSync(meta)) {
    const accounts = JSON.parse(readFileSync(meta, "utf8")) as Account[];
    if (accounts.length === count && (await valid(rdb, accounts))) {
      log(`users: reusing ${count} registered users from ${CACHE}`);
      return { rdb, accounts };
    }
    log("users: cached sessions no longer valid, registering again");
  }
  const started = Date.now();
  log(`users: registering ${count} users through POST /api/register (scrypt: about ${Math.round(count / 7)} s)`);
  const redis = await startRedis();
  try {
    const target = await startTarget({ kind: "ours", workers: 2, redisUrl: redis.url, redisPrefix: REDIS_PREFIX });
    let accounts: Account[];
    try {
      accounts = await logInAll(
        target.url,
        Array.from({ length: count }, (_, i) => userName(i)),
        {
          concurrency: 8,
          localAddress: (i) => `127.0.0.${2 + (i % 200)}`,
          onProgress: (done) => {
            if (done % 100 === 0) log(`users: ${done}/${count}`);
          },
        },
      );
    } finally {
      await target.stop();
    }
    await redis.saveTo(rdb);
    writeFileSync(meta, JSON.stringify(accounts));
    log(`users: ${count} registered in ${Math.round((Date.now() - started) / 1000)} s`);
    return { rdb, accounts };
  } finally {
    await redis.stop();
  }
}
