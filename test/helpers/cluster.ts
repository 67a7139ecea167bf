import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/lib/paths.js";
import { type ChatClient, type Connected, connect } from "./clients.js";
import { LOOSE_LIMITS } from "./server.js";

export interface LogLine {
  msg?: string;
  url?: string;
  instance?: string;
  role?: string;
  pid?: number;
  workerPid?: number;
  [key: string]: unknown;
}

export interface TestCluster {
  url: string;
  proc: ChildProcess;
  logs: LogLine[];
  /** Resolves with the first log line (already seen or future) that matches. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM, then resolves with the exit code (SIGKILL after the timeout, failing the caller). */
  stop(timeoutMs?: number): Promise<number | null>;
}

export interface ClusterOptions {
  /**
   * Runs the server as the leader of its own process group, as a host's service manager would, so
   * that a test can kill the whole host at once: `process.kill(-proc.pid, "SIGKILL")`.
   */
  ownProcessGroup?: boolean;
}

/** Runs the built server (`node dist/src/main.js`) as a real cluster on a free loopback port. */
export async function startCluster(env: Record<string, string>, { ownProcessGroup = false }: ClusterOptions = {}): Promise<TestCluster> {
  const proc = spawn(process.execPath, [join(PROJECT_ROOT, "dist/src/main.js")], {
    detached: ownProcessGroup,
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: "0",
      HOST: "127.0.0.1",
      WORKERS: "2",
      LOG_LEVEL: "info",
      ...LOOSE_LIMITS,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let buffer = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const raw of lines) {
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        continue;
      }
      logs.push(line);
      for (const waiter of waiters) if (waiter.match(line)) waiter.resolve(line);
    }
  });
  let stderr = "";
  proc.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> => {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (line: LogLine) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`log line not seen in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };

  const exited = once(proc, "exit").then(([code]) => code as number | null);
  const listening = await Promise.race([
    waitForLog((line) => line.msg === "listening", 30_000),
    exited.then((code) => {
      throw new Error(`server exited with ${code}: ${stderr.slice(-2000)}`);
    }),
  ]).catch((err: unknown) => {
    // No caller will stop a server that never reported listening: it must not outlive the test.
    proc.kill("SIGKILL");
    throw err;
  });
  return {
    url: listening.url as string,
    proc,
    logs,
    waitForLog,
    async stop(timeoutMs = 20_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Whether a process is still alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The worker pid in a `welcome.instance` ("<host>/<pid>"). */
export const pidOf = (instance: string): number => Number(instance.split("/").pop());

/**
 * Connects new clients (polling, then upgrade, through the sticky primary) until two workers serve
 * them; every socket opened is handed to `opened`, so the caller closes them all.
 */
export async function twoWorkers(
  cluster: TestCluster,
  cookie: string,
  opened: (socket: ChatClient) => void,
): Promise<[Connected, Connected]> {
  const byInstance = new Map<string, Connected>();
  for (let i = 0; i < 20 && byInstance.size < 2; i++) {
    const client = await connect(cluster.url, cookie, { transports: ["polling", "websocket"], reconnection: true });
    opened(client.socket);
    if (!byInstance.has(client.welcome.instance)) byInstance.set(client.welcome.instance, client);
  }
  const clients = [...byInstance.values()];
  if (clients.length < 2) throw new Error("all clients landed on one worker");
  return clients as [Connected, Connected];
}
