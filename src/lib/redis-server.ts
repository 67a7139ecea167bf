/**
 * Starts and stops a local `redis-server` (or `redis-sentinel`) on a free loopback port: the
 * development default, every test suite and the benchmarks launch Redis through this one module.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@redis/client";

export interface RedisServerOptions {
  /** `redis-server` (default) or `redis-sentinel`. */
  program?: "redis-server" | "redis-sentinel";
  /** Default: a free port, chosen when started. */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /**
   * Working directory (append-only file, RDB, cluster and sentinel state). Default: a fresh
   * temporary folder, removed by stop().
   */
  dir?: string;
  /**
   * A configuration file's text, written into `dir` and passed first: redis-sentinel requires one
   * (it rewrites it as it learns the topology).
   */
  configFile?: string;
  /**
   * More command-line options, e.g. `["--appendonly", "yes"]`, `["--replicaof", host, port]` or
   * `["--cluster-enabled", "yes"]`. Persistence is off (`--save ""`) unless these turn it on.
   */
  args?: readonly string[];
  /** How long it may take to answer PING. Default 10 s. */
  startTimeoutMs?: number;
}

export interface RedisServerProcess {
  readonly host: string;
  readonly port: number;
  /** `redis://host:port`. */
  readonly url: string;
  readonly dir: string;
  /** The running process's id (a new one after restart()). */
  pid(): number;
  /** SIGKILL, as a crash would; the folder stays for restart(). */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder. */
  restart(): Promise<void>;
  /** SIGSTOP: the port still accepts connections, nothing answers (a hung Redis). */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** SIGTERM (Redis then flushes its append-only file), SIGKILL after 5 s; removes a temporary folder. */
  stop(): Promise<void>;
}

/** A free TCP port on `host`, as the kernel hands out for port 0. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Whether a Redis (or Sentinel) at host:port answers PING and has its data loaded, within the
 * timeout. PING is answered while an append-only file is still loading, when other commands get
 * LOADING, so a data command is asked too (a Sentinel answers it with an error of another kind).
 */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let replies = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\nEXISTS ready-check\r\n"));
    socket.on("data", (data) => {
      replies += data.toString();
      const [pong = "", loaded = "", ...rest] = replies.split("\r\n");
      if (rest.length === 0) return; // the second reply is not complete yet
      done(pong === "+PONG" && !loaded.startsWith("-LOADING"));
    });
  });
}

/** An INFO reply's "field:value" lines as an object (section headers and blank lines skipped). */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\r\n")) {
    const at = line.indexOf(":");
    if (at > 0 && !line.startsWith("#")) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

/** One command on the Redis (server, sentinel or cluster node) at 127.0.0.1:`port`, on a connection of its own. */
export function commandOn(port: number, args: string[]): Promise<unknown> {
  return commandAt("127.0.0.1", port, args);
}

async function commandAt(host: string, port: number, args: string[]): Promise<unknown> {
  const client = createClient({ socket: { host, port, reconnectStrategy: false, connectTimeout: 5000 } });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/**
 * Spawns the program with `--port`, `--bind` and `--dir` (plus `options.args`) and resolves once
 * it answers PING. Rejects with the spawn error (code `ENOENT` when the program is not installed)
 * or with its stderr when it exits or does not answer in time.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerProcess> {
  if (options.port !== undefined) return startOn(options.port, options);
  // A port found free can be taken (by a test running beside this one) before the program binds it.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(await freePort(options.host), options);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt === PORT_ATTEMPTS) throw err;
    }
  }
}

const PORT_ATTEMPTS = 5;

/** Another process answered on the port chosen for a new Redis. */
class PortTakenError extends Error {}

async function startOn(port: number, options: RedisServerOptions): Promise<RedisServerProcess> {
  const program = options.program ?? "redis-server";
  const host = options.host ?? "127.0.0.1";
  const temporary = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `${program}-`));
  mkdirSync(dir, { recursive: true });
  const args: string[] = [];
  if (options.configFile !== undefined) {
    const file = join(dir, `${program}.conf`);
    writeFileSync(file, options.configFile);
    args.push(file);
  }
  args.push("--port", String(port), "--bind", host, "--dir", dir);
  if (program === "redis-server") args.push("--save", "");
  args.push(...(options.args ?? []));
  const timeoutMs = options.startTimeoutMs ?? 10_000;

  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const proc = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    // Redis logs to stdout; the tail of both says why it would not start.
    let output = "";
    const keepTail = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on("data", keepTail);
    proc.stderr?.on("data", keepTail);
    const failed = new Promise<Error>((resolve) => {
      proc.once("error", resolve);
      proc.once("exit", (code, signal) => {
        const message = `${program} exited (${code ?? signal}) on port ${port}: ${output.trim()}`;
        resolve(/Address already in use/.test(output) ? new PortTakenError(message) : new Error(message));
      });
    });
    const deadline = Date.now() + timeoutMs;
    let gaveUp = false;
    const answers = (async () => {
      while (Date.now() < deadline && !gaveUp) {
        if (await redisAnswers(host, port, 200)) {
          // A process that could not bind the port exits, but another one answers there meanwhile.
          const pid = Number(parseInfo(String(await commandAt(host, port, ["INFO", "server"]))).process_id);
          if (pid === proc.pid) return undefined;
          return new PortTakenError(`port ${port} is answered by process ${pid}, not by the ${program} started on it`);
        }
        await sleep(25);
      }
      return new Error(`${program} did not answer on port ${port} within ${timeoutMs} ms: ${output.trim()}`);
    })();
    const error = await Promise.race([failed, answers]);
    if (error) {
      gaveUp = true;
      await halt(proc, "SIGKILL");
      throw error;
    }
  };
  const halt = (proc: ChildProcess, signal: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    const exited = once(proc, "exit").then(() => undefined);
    proc.kill("SIGCONT"); // a frozen process could not act on SIGTERM
    proc.kill(signal);
    return exited;
  };

  try {
    await launch();
  } catch (err) {
    if (temporary) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const current = (): ChildProcess => child as ChildProcess;
  return {
    host,
    port,
    url: `redis://${host}:${port}`,
    dir,
    pid: () => current().pid ?? 0,
    kill: () => halt(current(), "SIGKILL"),
    restart: launch,
    freeze: () => current().kill("SIGSTOP"),
    thaw: () => current().kill("SIGCONT"),
    async stop() {
      const proc = current();
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await halt(proc, "SIGTERM");
      clearTimeout(timer);
      if (temporary) rmSync(dir, { recursive: true, force: true });
    },
  };
}
