/**
 * A throwaway redis-server per run (started by the project's launcher, src/lib/redis-server.ts)
 * without persistence, and the few commands the benchmarks send it: benchmarks must never touch a
 * developer's Redis, and every run starts from a known state.
 */
import { once } from "node:events";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseInfo, startRedisServer } from "../../src/lib/redis-server.js";

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Sends one command and returns the reply (arrays flattened to strings; enough for INFO/SAVE). */
  command(...args: string[]): Promise<string>;
  info(section: string): Promise<Record<string, string>>;
  /** Σ XLEN of the given stream keys, in one round trip (Lua). */
  streamLengths(keys: readonly string[]): Promise<number>;
  /** used_cpu_sys + used_cpu_user, in µs (INFO cpu). */
  cpuUs(): Promise<number>;
  /** SAVE, then copy the RDB file to `path`: a snapshot a later server can start from. */
  saveTo(path: string): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisStartOptions {
  /** An RDB file to start from (users and sessions registered once, reused by every run). */
  rdb?: string;
  port?: number;
}

/** A minimal RESP client: one connection per call keeps it obviously correct; calls are rare. */
export async function redisCommand(port: number, args: readonly string[], timeoutMs = 5000, host = "127.0.0.1"): Promise<string> {
  const socket: Socket = connect({ host, port });
  socket.setTimeout(timeoutMs);
  try {
    await once(socket, "connect");
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
    let buffer = Buffer.alloc(0);
    for (;;) {
      const reply = parseReply(buffer);
      if (reply !== undefined) return reply;
      const [chunk] = (await Promise.race([
        once(socket, "data"),
        once(socket, "timeout").then(() => {
          throw new Error(`redis ${args[0]} timed out`);
        }),
        once(socket, "close").then(() => {
          throw new Error(`redis closed during ${args[0]}`);
        }),
      ])) as [Buffer];
      buffer = Buffer.concat([buffer, chunk]);
    }
  } finally {
    socket.destroy();
  }
}

/** Parses one complete RESP2 reply, or undefined when more bytes are needed. */
function parseReply(buffer: Buffer): string | undefined {
  const parsed = parseAt(buffer, 0);
  return parsed?.value;
}

function parseAt(buffer: Buffer, offset: number): { value: string; end: number } | undefined {
  const eol = buffer.indexOf("\r\n", offset);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const head = buffer.toString("utf8", offset + 1, eol);
  switch (type) {
    case "+":
    case ":":
      return { value: head, end: eol + 2 };
    case "-":
      throw new Error(`redis error: ${head}`);
    case "$": {
      const length = Number(head);
      if (length < 0) return { value: "", end: eol + 2 };
      if (buffer.length < eol + 2 + length + 2) return undefined;
      return { value: buffer.toString("utf8", eol + 2, eol + 2 + length), end: eol + 2 + length + 2 };
    }
    case "*": {
      const count = Number(head);
      const parts: string[] = [];
      let end = eol + 2;
      for (let i = 0; i < count; i++) {
        const item = parseAt(buffer, end);
        if (!item) return undefined;
        parts.push(item.value);
        end = item.end;
      }
      return { value: parts.join("\n"), end };
    }
    default:
      throw new Error(`unexpected RESP type ${type}`);
  }
}

/** A redis-server without persistence in a fresh directory (holding `options.rdb` when given). */
export async function startRedis(options: RedisStartOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "chat-bench-redis-"));
  if (options.rdb) copyFileSync(options.rdb, join(dir, "dump.rdb"));
  const launched = await startRedisServer({ port: options.port, dir, args: ["--appendonly", "no", "--dbfilename", "dump.rdb"] }).catch(
    (err: unknown) => {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    },
  );
  const port = launched.port;
  const server: RedisServer = {
    port,
    url: launched.url,
    pid: launched.pid(),
    command: (...args) => redisCommand(port, args),
    info: async (section) => parseInfo(await redisCommand(port, ["INFO", section])),
    streamLengths: async (keys) => {
      if (keys.length === 0) return 0;
      const script = "local n = 0 for _, k in ipairs(KEYS) do n = n + redis.call('XLEN', k) end return n";
      return Number(await redisCommand(port, ["EVAL", script, String(keys.length), ...keys]));
    },
    cpuUs: async () => {
      const info = await server.info("cpu");
      return (Number(info.used_cpu_sys) + Number(info.used_cpu_user)) * 1e6;
    },
    saveTo: async (path) => {
      await redisCommand(port, ["SAVE"], 60_000);
      copyFileSync(join(dir, "dump.rdb"), path);
    },
    stop: async () => {
      await launched.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
