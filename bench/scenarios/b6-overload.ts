/**
 * B6 overload: half the sustainable rate for a baseline, twice it for 20 s, then half again.
 * Reports how far the server tree's RSS grows (peak − baseline; an unbounded queue shows here)
 * and how long after the load drops the p99 of new messages is back under 50 ms. Latency is per
 * 500 ms bucket of scheduled send time, so the backlog of the overload counts against recovery.
 */
import type { TargetKind } from "../lib/target.js";
import { nowUs, sleepUntil } from "../lib/time.js";
import type { Slot } from "../loadgen/protocol.js";
import {
  type BenchOptions,
  between,
  bySize,
  drain,
  MB,
  type MessageFigures,
  mergeBuckets,
  messageFiguresOf,
  type Run,
  round,
  type Window,
} from "./harness.js";

export interface B6Result {
  target: TargetKind;
  saturation: number;
  overloadRate: number;
  baselineRssMB: number;
  peakRssMB: number;
  growthMB: number;
  /** ms after the drop to half load until every later bucket has p99 ≤ 50 ms and full delivery; null if never. */
  recoveryMs: number | null;
  /** The 20 s at twice the saturation: sends refused with an error (shed) in `ackFailed`. */
  overload: MessageFigures & { ackFailed: number };
  errors: Record<string, number>;
  /** Sockets the server dropped during the run (they do not reconnect here), and those left. */
  disconnects: number;
  connectedAtEnd: number;
  /** Per 500 ms bucket: p99 (ms) and delivered/expected; and RSS samples (MB) every 250 ms. */
  timeline: { tMs: number; p99Ms: number; delivered: number }[];
  rss: { tMs: number; mb: number }[];
}

const SLO_MS = 50;
const BUCKET_MS = 500;

export interface B6Plan {
  slots: Slot[];
  fanout: Record<string, number>;
  /** B2's sustainable rate for this target (msg/s). */
  saturation: number;
  options: BenchOptions;
  kind: TargetKind;
}

export async function runB6Overload(run: Run, plan: B6Plan): Promise<B6Result> {
  const { options } = plan;
  const saturation = Math.max(plan.saturation, 200);
  const warmMs = bySize(options, { full: 5000, quick: 3000, smoke: 1000 });
  const overMs = bySize(options, { full: 20_000, quick: 6000, smoke: 2000 });
  // At least 3 s: recovery is three 1 s windows in a row.
  const recoverMs = bySize(options, { full: 12_000, quick: 6000, smoke: 3000 });
  const half = saturation / 2;
  const over = saturation * 2;

  await run.pool.resetConnections();
  const t0 = await run.pool.load(
    {
      bucketMs: BUCKET_MS,
      segments: [
        { durationMs: warmMs, rate: half },
        { durationMs: overMs, rate: over },
        { durationMs: recoverMs, rate: half },
      ],
      fanout: plan.fanout,
      textBytes: 100,
    },
    plan.slots,
  );
  const rss: { tMs: number; mb: number }[] = [];
  const sampler = setInterval(() => {
    rss.push({ tMs: Date.now(), mb: run.target.sample().rssBytes / MB });
  }, 250);
  const startMs = Date.now() + (t0 - nowUs()) / 1000;
  let overWindow: Window;
  try {
    await sleepUntil(t0 + warmMs * 1000);
    const a = await run.sample();
    await sleepUntil(t0 + (warmMs + overMs) * 1000);
    overWindow = between(a, await run.sample());
    await sleepUntil(t0 + (warmMs + overMs + recoverMs) * 1000);
    await drain(run.pool, bySize(options, { full: 15_000, quick: 5000, smoke: 2000 }));
  } finally {
    clearInterval(sampler);
  }
  const reports = await run.pool.results();
  const connections = await run.pool.connections();
  const totalBuckets = (warmMs + overMs + recoverMs) / BUCKET_MS;
  const timeline: B6Result["timeline"] = [];
  for (let k = 0; k < totalBuckets; k++) {
    const b = mergeBuckets(reports, k, k + 1);
    timeline.push({ tMs: k * BUCKET_MS, p99Ms: b.latency.p99Ms, delivered: b.expected > 0 ? round(b.delivered / b.expected, 4) : 1 });
  }
  const recoverFrom = (warmMs + overMs) / BUCKET_MS;
  // Recovered = the first 1 s window after the drop that starts 3 s in a row meeting the SLO with
  // every message delivered. 1 s, because at half load a 500 ms bucket holds too few samples for a
  // stable p99; 3 s in a row, so one GC pause ten seconds later does not undo a recovery. A window
  // in which nothing was sent (sockets gone) is not a pass.
  const ok = (k: number): boolean => {
    const window = mergeBuckets(reports, k, k + 2);
    return window.expected > 0 && window.latency.p99Ms <= SLO_MS && window.delivered / window.expected >= 0.999;
  };
  let recoveredAt: number | null = null;
  for (let k = recoverFrom; k + 6 <= totalBuckets; k += 2) {
    if (ok(k) && ok(k + 2) && ok(k + 4)) {
      recoveredAt = k;
      break;
    }
  }
  const rel = rss.map((s) => ({ tMs: Math.round(s.tMs - startMs), mb: round(s.mb, 1) }));
  const baseline = rel.filter((s) => s.tMs >= warmMs - 2000 && s.tMs < warmMs);
  const baselineRssMB = baseline.length > 0 ? baseline.reduce((n, s) => n + s.mb, 0) / baseline.length : (rel[0]?.mb ?? 0);
  const peakRssMB = Math.max(...rel.filter((s) => s.tMs >= warmMs).map((s) => s.mb), baselineRssMB);
  const overload = mergeBuckets(reports, warmMs / BUCKET_MS, recoverFrom);
  const errors: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const result: B6Result = {
    target: plan.kind,
    saturation,
    overloadRate: Math.round(over),
    baselineRssMB: round(baselineRssMB, 1),
    peakRssMB: round(peakRssMB, 1),
    growthMB: round(peakRssMB - baselineRssMB, 1),
    recoveryMs: recoveredAt === null ? null : (recoveredAt - recoverFrom) * BUCKET_MS,
    overload: { ...messageFiguresOf(overWindow, over, overload), ackFailed: overload.ackFailed },
    errors,
    disconnects: connections.disconnects,
    connectedAtEnd: connections.connected,
    timeline,
    rss: rel,
  };
  options.log(
    `  B6 ${plan.kind} ${Math.round(over)}/s for ${overMs / 1000} s: RSS +${result.growthMB} MB (peak ${result.peakRssMB}), ` +
      `recovery ${result.recoveryMs === null ? "never" : `${result.recoveryMs} ms`}, overload p99 ${result.overload.latency.p99Ms} ms, sent ${result.overload.sentPerSec}/s, ` +
      `${result.disconnects} sockets dropped, errors ${JSON.stringify(errors)}`,
  );
  return result;
}
