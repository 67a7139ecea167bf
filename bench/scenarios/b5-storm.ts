/**
 * B5 reconnect storm: 9,000 sockets on two workers while members of small rooms keep sending.
 * Phase 1 kills one worker (SIGKILL): its sockets reconnect to the survivor. Phase 2 restarts all
 * workers (SIGHUP, the rolling restart both primaries implement). For each phase: how long until
 * every socket is back, the longest single outage, failed handshakes. At the end: every acked
 * message must have reached every member socket (live, or replayed from auth.lastIds).
 *
 * The reference persists nothing, so its losses are expected: it is here for the timings.
 */
import { readFileSync } from "node:fs";
import { concatLists } from "../lib/collections.js";
import type { TargetKind } from "../lib/target.js";
import { sleep, waitFor } from "../lib/time.js";
import type { Slot } from "../loadgen/protocol.js";
import {
  type BenchOptions,
  between,
  bySize,
  drain,
  type Figures,
  figuresOf,
  type MessageFigures,
  mergeBuckets,
  messageFiguresOf,
  type Population,
  type Run,
} from "./harness.js";

export interface StormPhase {
  trigger: "kill-worker" | "restart-all";
  /** Why the phase did not run (e.g. the primary does not handle SIGHUP). */
  skipped?: string;
  disconnected: number;
  allBack: boolean;
  /** From the trigger until every socket had its welcome again (and, for a restart, no old worker was left). */
  backAfterMs: number | null;
  outageP50Ms: number;
  outageP95Ms: number;
  outageMaxMs: number;
  failedHandshakes: number;
  failures: Record<string, number>;
  kicked: number;
  /** Server CPU (primary and workers, a replacement's start included) from the trigger until all were back, per socket dropped. */
  serverCpuUsPerReconnect: number;
  /** From the trigger until all were back (null when skipped): is the storm client-bound? */
  figures: Figures | null;
}

export interface B5Result {
  target: TargetKind;
  connections: number;
  phases: StormPhase[];
  sent: number;
  acked: number;
  /** Distinct acked messages that at least one connected member socket never received. */
  ackedLost: number;
  missingPairs: number;
  /** Member sockets still disconnected when losses were counted (their misses are not counted). */
  socketsDown: number;
  duplicates: number;
  unackedAtEnd: number;
  /** The senders' messages over both phases: latency includes the replays of those missed while down. */
  storm: MessageFigures;
}

function catchesSignal(pid: number, signal: number): boolean {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("SigCgt:"));
    return line ? (BigInt(`0x${line.slice(7).trim()}`) >> BigInt(signal - 1)) % 2n === 1n : false;
  } catch {
    return false;
  }
}

const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

async function phase(
  run: Run,
  trigger: StormPhase["trigger"],
  act: () => void,
  settled: () => boolean,
  timeoutMs: number,
): Promise<StormPhase> {
  await run.pool.resetConnections();
  const before = await run.sample();
  const started = Date.now();
  act();
  let sawLoss = false;
  let backAfterMs: number | null = null;
  await waitFor(
    async () => {
      const c = await run.pool.connections();
      if (c.disconnects > 0) sawLoss = true;
      const back = c.connected === c.total && c.openOutagesMs.length === 0 && settled();
      if (back && (sawLoss || Date.now() - started > 3000)) {
        backAfterMs = Date.now() - started;
        return true;
      }
      return false;
    },
    timeoutMs,
    100,
  );
  const window = between(before, await run.sample());
  const c = await run.pool.connections();
  return {
    trigger,
    disconnected: c.disconnects,
    allBack: backAfterMs !== null,
    backAfterMs,
    outageP50Ms: percentile(c.outagesMs, 50),
    outageP95Ms: percentile(c.outagesMs, 95),
    outageMaxMs: Math.max(0, ...c.outagesMs, ...c.openOutagesMs),
    failedHandshakes: c.failedAttempts,
    failures: c.failures,
    kicked: c.kicked,
    serverCpuUsPerReconnect: c.disconnects > 0 ? Math.round(window.serverCpuUs / c.disconnects) : 0,
    figures: figuresOf(window),
  };
}

export const stormRoom = (user: number): string => `#b5-${user >> 1}`;

/**
 * B5 on a run whose sockets are connected with loss tracking on (two-workers.ts): the first
 * `senders` users are in rooms of 2 (stormRoom) and keep sending while one worker is killed and
 * then all are restarted.
 */
export async function measureStorm(
  run: Run,
  pop: Population,
  fanout: Record<string, number>,
  senders: number,
  kind: TargetKind,
  options: BenchOptions,
): Promise<B5Result> {
  const workers = run.spec.workers;
  const connections = (await run.pool.connections()).total;
  const slots: Slot[] = pop.socketsOf.slice(0, senders).map((sockets, u) => ({ client: sockets[0] as number, room: stormRoom(u) }));
  const rate = bySize(options, { full: 100, quick: 40, smoke: 10 });
  await run.pool.load({ bucketMs: 1000, segments: [{ durationMs: 600_000, rate }], fanout, textBytes: 100 }, slots);
  const loadStarted = await run.sample();
  await sleep(2000);

  const phases: StormPhase[] = [];
  const victim = (await run.pool.busiestWorker()) ?? run.target.workerPids()[0];
  if (victim === undefined || !run.target.workerPids().includes(victim)) throw new Error(`B5: no worker to kill (${victim})`);
  phases.push(
    await phase(
      run,
      "kill-worker",
      () => process.kill(victim, "SIGKILL"),
      () => true,
      30_000,
    ),
  );
  options.log(`  B5 ${kind} kill-worker: ${JSON.stringify(phases[0])}`);
  await run.target.waitWorkers(workers, 15_000);
  await sleep(2000);

  if (!catchesSignal(run.target.pid, 1)) {
    phases.push({ ...emptyPhase("restart-all"), skipped: "the primary does not handle SIGHUP (rolling restart)" });
  } else {
    const old = new Set(run.target.workerPids());
    const restarted = (): boolean => {
      const now = run.target.workerPids();
      return now.length >= workers && now.every((p) => !old.has(p));
    };
    phases.push(await phase(run, "restart-all", () => process.kill(run.target.pid, "SIGHUP"), restarted, 60_000));
  }
  options.log(`  B5 ${kind} restart-all: ${JSON.stringify(phases[1])}`);

  await sleep(1000);
  const loadWindow = between(loadStarted, await run.sample());
  await run.pool.stopLoad();
  // Give stragglers time to come back and resend: only then do misses count as losses.
  await waitFor(async () => (await run.pool.snapshots()).every((s) => s.unacked === 0 && s.connected === s.total), 20_000, 200);
  await drain(run.pool, 5000);
  const reports = await run.pool.results();
  const verify = await run.pool.verify(concatLists(reports.map((r) => r.ackedIds)));
  const snaps = await run.pool.snapshots();
  const result: B5Result = {
    target: kind,
    connections,
    phases,
    sent: snaps.reduce((n, s) => n + s.sent, 0),
    acked: snaps.reduce((n, s) => n + s.acked, 0),
    ackedLost: Object.values(verify.missing).reduce((n, ids) => n + ids.length, 0),
    missingPairs: verify.missingPairs,
    socketsDown: verify.socketsDown,
    duplicates: reports.reduce((n, r) => n + r.duplicates, 0),
    unackedAtEnd: snaps.reduce((n, s) => n + s.unacked, 0),
    storm: messageFiguresOf(loadWindow, rate, mergeBuckets(reports, 0, Number.MAX_SAFE_INTEGER)),
  };
  options.log(
    `  B5 ${kind}: sent ${result.sent}, acked ${result.acked}, acked lost ${result.ackedLost} (${result.missingPairs} socket-message pairs), ` +
      `duplicates ${result.duplicates}, unacked ${result.unackedAtEnd}, member sockets still down ${result.socketsDown}`,
  );
  return result;
}

function emptyPhase(trigger: StormPhase["trigger"]): StormPhase {
  return {
    trigger,
    disconnected: 0,
    allBack: false,
    backAfterMs: null,
    outageP50Ms: 0,
    outageP95Ms: 0,
    outageMaxMs: 0,
    failedHandshakes: 0,
    failures: {},
    kicked: 0,
    serverCpuUsPerReconnect: 0,
    figures: null,
  };
}
