/**
 * Starts and stops a server under test: the project ("ours", dist/src/main.js) or the reference
 * relay ("ref", dist/bench/reference/main.js), with the same environment and cluster shape.
 * Every child is tracked by pid and ended by pid; the port is always chosen by the kernel (PORT=0)
 * and read back from the primary's "listening" line, so a stale server can never answer instead.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { request } from "node:http";
import { createInterface } from "node:readline";
import { PATHS } from "./paths.js";
import { isAlive, processTree, sampleTree, type TreeSample } from "./proc.js";
import { waitFor } from "./time.js";

export type TargetKind = "ours" | "ref";

export interface TargetOptions {
  kind: TargetKind;
  workers: number;
  /** REDIS_URL; leave it out when `env` names another topology (REDIS_CLUSTER_NODES). */
  redisUrl?: string;
  redisPrefix: string;
  /** taskset CPU list for the whole server tree (e.g. "0"), or undefined to let the kernel place it. */
  cpus?: string;
  /** Extra environment, e.g. a lower HISTORY_LIMIT for one scenario. */
  env?: Record<string, string>;
  /** Another build of the project's server (e.g. an earlier commit's dist/src/main.js), to compare. */
  script?: string;
  /** Until the primary prints "listening" (default 120 s: a start takes seconds, far longer on a loaded machine). */
  startTimeoutMs?: number;
}

export interface RunningTarget {
  readonly kind: TargetKind;
  readonly url: string;
  readonly port: number;
  /** The primary. */
  readonly pid: number;
  workerPids(): number[];
  sample(): TreeSample;
  /** Waits until `count` worker processes run (after a kill or a rolling restart). */
  waitWorkers(count: number, timeoutMs: number): Promise<boolean>;
  /** The last lines the server printed, for error messages. */
  logTail(): string[];
  /** Lines at level warn or above seen so far (pino levels ≥ 40). */
  warnings(): string[];
  stop(): Promise<void>;
}

/** The project's limits raised so the harness measures the server, not its abuse protection. */
const RAISED_LIMITS: Record<string, string> = {
  SEND_RATE: "1000000",
  SEND_BURST: "1000000",
  CONNECT_RATE: "10000000",
  EVENT_RATE: "10000000",
  EVENT_BURST: "10000000",
  USER_EVENT_RATE: "10000000",
  USER_EVENT_BURST: "10000000",
  SOCKETS_PER_USER: "1000000",
  ROOMS_PER_USER: "1000000",
  ROOM_CREATE_RATE: "1000000",
  LOGIN_RATE: "1000000",
  LOGIN_ADDRESS_RATE: "10000000",
  PASSWORD_HASH_MAX_IN_FLIGHT: "10000",
  REGISTER_RATE: "1000000",
  LOG_LEVEL: "warn",
};

/**
 * A clean environment: the smoke test runs under tap's loaders and coverage (NODE_OPTIONS and tap's own variables),
 * which a server child must not inherit.
 */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "LANG", "TMPDIR", "USER"];
  const env: NodeJS.ProcessEnv = {};
  for (const key of keep) if (process.env[key] !== undefined) env[key] = process.env[key];
  return { ...env, ...extra };
}

export function pinned(cpus: string | undefined, command: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [command, args] : ["taskset", ["-c", cpus, command, ...args]];
}

export async function startTarget(options: TargetOptions): Promise<RunningTarget> {
  const script = options.script ?? (options.kind === "ours" ? PATHS.server : PATHS.reference);
  const env = childEnv({
    ...RAISED_LIMITS,
    WORKERS: String(options.workers),
    PORT: "0",
    HOST: "127.0.0.1",
    ...(options.redisUrl === undefined ? {} : { REDIS_URL: options.redisUrl }),
    REDIS_PREFIX: options.redisPrefix,
    ...options.env,
  });
  // e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the servers under a real load (cluster
  // workers inherit the primary's node flags). Profiles are written at exit, so those runs give
  // the servers time to exit by themselves.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const exitGraceMs = nodeArgs.length > 0 ? 60_000 : 10_000;
  // The project's default (10 s) for SIGTERM; its rolling restarts (B5) keep RESTART_TIMEOUT_MS's
  // default. The reference drains at once whatever it is told.
  env.SHUTDOWN_TIMEOUT_MS = String(exitGraceMs);
  const [command, args] = pinned(options.cpus, process.execPath, [...nodeArgs, script]);
  const child: ChildProcess = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], cwd: PATHS.root });
  const pid = child.pid as number;
  const tail: string[] = [];
  const warnings: string[] = [];
  const remember = (line: string): void => {
    tail.push(line);
    if (tail.length > 60) tail.shift();
  };
  let url: string | undefined;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    remember(line);
    try {
      const entry = JSON.parse(line) as { msg?: string; url?: string; level?: number };
      if (entry.msg === "listening" && typeof entry.url === "string") url ??= entry.url;
      if ((entry.level ?? 0) >= 40 && warnings.length < 200) warnings.push(line);
    } catch {
      // not JSON (a stack trace): kept in the tail
    }
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
    // The inspector (remote GC) announces itself on stderr; that is not a server problem.
    if (!/^(Debugger (listening|ending|attached)|For help, see)/.test(line)) remember(`stderr: ${line}`);
  });
  const exited = once(child, "exit");

  /** Every pid of the tree seen so far, so stop() can end workers even after the primary died. */
  const seen = new Set<number>([pid]);
  const tree = (): number[] => {
    const pids = processTree(pid);
    for (const p of pids) seen.add(p);
    return pids;
  };

  const stop = async (): Promise<void> => {
    tree();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), exitGraceMs * 2);
      await exited;
      clearTimeout(killer);
    }
    // Workers normally exit with their primary; any that linger are ours to end, by pid.
    await waitFor(() => [...seen].every((p) => !isAlive(p)), exitGraceMs);
    for (const p of seen) {
      if (isAlive(p)) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  };

  const fail = async (why: string): Promise<never> => {
    await stop();
    throw new Error(`${options.kind} server ${why}\n${tail.join("\n")}`);
  };

  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const started = await waitFor(() => url !== undefined || child.exitCode !== null, timeoutMs);
  if (!started || url === undefined) return fail(child.exitCode !== null ? `exited with ${child.exitCode}` : 'never printed "listening"');
  const base = url;
  if (!(await waitFor(() => tree().length - 1 >= options.workers, timeoutMs))) return fail("did not fork its workers");
  if (!(await waitFor(async () => (await httpStatus(`${base}/readyz`)) === 200, timeoutMs, 100))) return fail("never became ready");

  return {
    kind: options.kind,
    url: base,
    port: Number(new URL(base).port),
    pid,
    workerPids: () => tree().filter((p) => p !== pid),
    sample: () => sampleTree(pid),
    waitWorkers: (count, ms) => waitFor(() => tree().length - 1 >= count, ms, 50),
    logTail: () => [...tail],
    warnings: () => [...warnings],
    stop,
  };
}

export function httpStatus(url: string, headers: Record<string, string> = {}, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: "GET", timeout: timeoutMs, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}
