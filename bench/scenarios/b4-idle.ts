/**
 * B4 idle memory: RSS of the whole server tree (primary + workers) before and after opening 10,000
 * idle sockets, both after a full GC in every process (remote-gc.ts), divided by the sockets.
 * Kernel socket buffers are not in RSS; the report says so.
 * Also the idle CPU cost per connection-second (pings, presence heartbeats), and the common figures
 * (CPU of server, Redis and load generators; RSS) while connecting and while idle. No messages
 * flow, so there are no rates or latencies to report.
 */
import { collectGarbageAll, type GcResult } from "../lib/remote-gc.js";
import type { TargetKind } from "../lib/target.js";
import { sleep } from "../lib/time.js";
import type { ConnectReport } from "../loadgen/protocol.js";
import { type BenchOptions, between, bySize, type Figures, figuresOf, MB, type Run, round, type Window } from "./harness.js";

export interface B4Result {
  target: TargetKind;
  workers: number;
  connections: number;
  connectMs: number;
  /** Initial connects per second achieved (ramp ≤ 2,000/s, ≤ 100 open handshakes per agent). */
  connectPerSec: number;
  connectFailed: number;
  /**
   * Server CPU (primary and workers) per connection while they connected: what a reconnect storm
   * (B5) costs the server per socket, with less noise than B5's timings.
   */
  connectCpuUsPerConn: number;
  baseRssMB: number;
  rssMB: number;
  rssPerConnKB: number;
  /** The primary's share of rssPerConnKB: what it keeps of the connections it handed over. */
  primaryRssPerConnKB: number;
  heapPerConnKB: number;
  /** Whether every process could be garbage-collected before both readings. */
  gc: boolean;
  idleCpuUsPerConnSec: number;
  /** While the sockets connected, and while they idled (before the GC). */
  connecting: Figures;
  idle: Figures;
}

export interface IdleBaseline {
  rssBytes: number;
  primaryRssBytes: number;
  gc: GcResult;
}

/** The server tree's RSS (and heap) after a full GC in every process, before any socket connects. */
export async function idleBaseline(run: Run): Promise<IdleBaseline> {
  await sleep(1000);
  const gc = await collectGarbageAll(run.target.sample().pids);
  const sample = run.target.sample();
  return { rssBytes: sample.rssBytes, primaryRssBytes: sample.rootRssBytes, gc };
}

/**
 * B4 on a run whose sockets just connected (two-workers.ts; `connecting` is the window of their
 * connect): idle CPU, then RSS and heap after GC.
 */
export async function measureIdle(
  run: Run,
  base: IdleBaseline,
  connected: ConnectReport,
  connecting: Window,
  kind: TargetKind,
  options: BenchOptions,
): Promise<B4Result> {
  await sleep(bySize(options, { full: 3000, quick: 1000, smoke: 300 }));
  const a = await run.sample();
  await sleep(bySize(options, { full: 10_000, quick: 3000, smoke: 1000 }));
  const b = await run.sample();
  const idle = between(a, b);
  const gcAfter = await collectGarbageAll(run.target.sample().pids);
  const after = run.target.sample();
  const n = connected.connected;
  const gc = base.gc.ok && gcAfter.ok;
  const result: B4Result = {
    target: kind,
    workers: run.spec.workers,
    connections: n,
    connectMs: connected.connectMs,
    connectPerSec: connected.connectMs > 0 ? Math.round((n * 1000) / connected.connectMs) : 0,
    connectFailed: connected.failed,
    connectCpuUsPerConn: n > 0 ? round(connecting.serverCpuUs / n, 1) : 0,
    baseRssMB: round(base.rssBytes / MB, 1),
    rssMB: round(after.rssBytes / MB, 1),
    rssPerConnKB: n > 0 ? round((after.rssBytes - base.rssBytes) / n / 1024, 2) : 0,
    primaryRssPerConnKB: n > 0 ? round((after.rootRssBytes - base.primaryRssBytes) / n / 1024, 2) : 0,
    heapPerConnKB: n > 0 && gc ? round((gcAfter.heapUsed - base.gc.heapUsed) / n / 1024, 2) : 0,
    gc,
    idleCpuUsPerConnSec: n > 0 ? round(idle.serverCpuUs / n / idle.seconds, 3) : 0,
    connecting: figuresOf(connecting),
    idle: figuresOf(idle),
  };
  options.log(
    `  B4 ${kind} ${n} idle sockets (connected at ${result.connectPerSec}/s, ${result.connectCpuUsPerConn} server CPU-µs each): ${result.rssPerConnKB} KB RSS/conn (primary ${result.primaryRssPerConnKB}), ${result.heapPerConnKB} KB heap/conn ` +
      `(${result.baseRssMB} → ${result.rssMB} MB, gc ${result.gc}), ${result.idleCpuUsPerConnSec} µs CPU per conn-second`,
  );
  return result;
}
