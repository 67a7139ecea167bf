/**
 * A load step (warm up, then measure at one offered rate) and the search for the highest
 * sustainable rate: the highest step whose p99 stays under the SLO with every message delivered
 * and acked. B1, B2, B3 and B6 are built from these.
 */
import type { LatencySummary } from "../lib/histogram.js";
import { sleepUntil } from "../lib/time.js";
import type { Slot } from "../loadgen/protocol.js";
import { between, drain, MB, mergeBuckets, type Run, round } from "./harness.js";

export interface StepPlan {
  /** Messages per second offered (all agents together). */
  rate: number;
  slots: Slot[];
  fanout: Record<string, number>;
  warmMs: number;
  measureMs: number;
  /** p99 limit for `pass`, ms. */
  sloMs: number;
  textBytes?: number;
  /** Edits instead of messages (LoadPlan.event). */
  event?: "edit";
  /** How long stragglers of a saturated step may take to arrive. */
  drainMs?: number;
}

export interface StepResult {
  offered: number;
  /** Deliveries per second offered: rate × mean fan-out of the slots. */
  offeredDeliveries: number;
  sentPerSec: number;
  deliveredPerSec: number;
  /** Of the messages sent in the measured window, the share delivered to every expected socket. */
  deliveredRatio: number;
  ackedRatio: number;
  ackFailed: number;
  latency: LatencySummary;
  ackLatency: LatencySummary;
  serverCores: number;
  serverCpuUsPerMsg: number;
  serverCpuUsPerDelivery: number;
  redisCores: number;
  clientCores: number;
  clientBound: boolean;
  /** Busy CPU outside the measured processes (kernel, other tenants), cores: see harness.Window. */
  otherCores: number;
  /** Busy CPU of the whole machine, cores (see harness.Window). */
  boxCores: number;
  serverRssMB: number;
  /** Acked sends over the whole step, warm-up included (for the persistence check). */
  ackedTotal: number;
  errors: Record<string, number>;
  pass: boolean;
  why: string;
  /** Failed (if at all) only on p99: everything was sent, delivered and acked. */
  latencyOnly: boolean;
}

const BUCKET_MS = 500;

export async function runStep(run: Run, plan: StepPlan): Promise<StepResult> {
  const first = Math.ceil(plan.warmMs / BUCKET_MS);
  const last = Math.floor((plan.warmMs + plan.measureMs) / BUCKET_MS);
  if (last <= first)
    throw new Error(`a step must measure at least one whole ${BUCKET_MS} ms bucket (warm ${plan.warmMs}, measure ${plan.measureMs} ms)`);
  const meanFanout = plan.slots.reduce((n, s) => n + (plan.fanout[s.room] ?? 0), 0) / Math.max(1, plan.slots.length);
  const t0 = await run.pool.load(
    {
      bucketMs: BUCKET_MS,
      segments: [{ durationMs: plan.warmMs + plan.measureMs, rate: plan.rate }],
      fanout: plan.fanout,
      textBytes: plan.textBytes ?? 100,
      ...(plan.event ? { event: plan.event } : {}),
    },
    plan.slots,
  );
  await sleepUntil(t0 + plan.warmMs * 1000);
  const a = await run.sample();
  await sleepUntil(t0 + (plan.warmMs + plan.measureMs) * 1000);
  const b = await run.sample();
  await drain(run.pool, plan.drainMs ?? 3000);
  const reports = await run.pool.results();
  const buckets = mergeBuckets(reports, first, last);
  const whole = mergeBuckets(reports, 0, last + 1);
  const w = between(a, b);
  const errors: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const deliveredRatio = buckets.expected > 0 ? buckets.delivered / buckets.expected : 0;
  const ackedRatio = buckets.sent > 0 ? buckets.acked / buckets.sent : 0;
  const sentPerSec = buckets.sent / (plan.measureMs / 1000);

  const reasons: string[] = [];
  const latencyOnly = deliveredRatio >= 0.999 && ackedRatio >= 0.999 && sentPerSec >= plan.rate * 0.97;
  if (buckets.latency.p99Ms > plan.sloMs) reasons.push(`p99 ${buckets.latency.p99Ms} ms > ${plan.sloMs}`);
  if (deliveredRatio < 0.999) reasons.push(`delivered ${round(deliveredRatio * 100, 2)} %`);
  if (ackedRatio < 0.999) reasons.push(`acked ${round(ackedRatio * 100, 2)} %`);
  if (sentPerSec < plan.rate * 0.97) reasons.push(`client sent only ${Math.round(sentPerSec)}/s`);
  return {
    offered: plan.rate,
    offeredDeliveries: round(plan.rate * meanFanout, 0),
    sentPerSec: round(sentPerSec, 0),
    deliveredPerSec: round(w.delivered / w.seconds, 0),
    deliveredRatio: round(deliveredRatio, 5),
    ackedRatio: round(ackedRatio, 5),
    ackFailed: buckets.ackFailed,
    latency: buckets.latency,
    ackLatency: buckets.ackLatency,
    serverCores: round(w.serverCores, 3),
    serverCpuUsPerMsg: round(w.sent > 0 ? w.serverCpuUs / w.sent : 0, 2),
    serverCpuUsPerDelivery: round(w.delivered > 0 ? w.serverCpuUs / w.delivered : 0, 3),
    redisCores: round(w.redisCores, 3),
    clientCores: round(w.clientCores, 3),
    clientBound: w.clientBound,
    otherCores: round(w.otherCores, 3),
    boxCores: round(w.boxCores, 3),
    serverRssMB: round(w.serverRssBytes / MB, 1),
    ackedTotal: whole.acked,
    errors,
    pass: reasons.length === 0,
    why: reasons.join("; "),
    latencyOnly,
  };
}

/** One line for a step's log: its latency, delivery, where the CPU went, and the verdict. */
export function describeStep(step: StepResult): string {
  return (
    `p99 ${step.latency.p99Ms} ms, delivered ${round(step.deliveredRatio * 100, 2)} %, ` +
    `server ${round(step.serverCores * 100, 0)} %, client ${round(step.clientCores * 100, 0)} %, redis ${round(step.redisCores * 100, 0)} %, ` +
    `other ${round(step.otherCores * 100, 0)} %, ${step.serverCpuUsPerMsg} µs/msg ${step.pass ? "ok" : `FAIL (${step.why})`}`
  );
}

export interface SearchPlan extends Omit<StepPlan, "rate"> {
  /** First rate when there is no hint. */
  start: number;
  /** A previous result for the same target and shape: the search starts just below it. */
  hint?: number;
  max: number;
  /** At most this many steps, retries included (a smoke run checks the search, not the server). */
  maxSteps?: number;
  log: (line: string) => void;
  label: string;
}

export interface SearchResult {
  /** Highest passing rate (msg/s), 0 if none passed. */
  sustainable: number;
  steps: StepResult[];
}

/** The highest passing step of a search: where its sustainable rate was measured. */
export function bestStep(steps: readonly StepResult[] | undefined): StepResult | undefined {
  return steps?.filter((s) => s.pass).sort((a, b) => b.offered - a.offered)[0];
}

/**
 * Brackets the saturation point by climbing (×1.5 from `start`, or ×1.25 from 0.8 × hint), then
 * bisects the bracket twice (geometric midpoints): ≈ 6–11 % resolution in 6–10 steps. A step that
 * failed on latency alone, mildly or while other work was busy on the box, is tried once more: a
 * shared 2-core machine has hiccups that are not the server's saturation.
 */
export async function findSustainable(run: Run, plan: SearchPlan): Promise<SearchResult> {
  const steps: StepResult[] = [];
  const budgetLeft = (): boolean => steps.length < (plan.maxSteps ?? Number.POSITIVE_INFINITY);
  const probe = async (rate: number): Promise<boolean> => {
    for (let attempt = 0; ; attempt++) {
      const step = await runStep(run, { ...plan, rate: Math.round(rate), drainMs: plan.drainMs ?? 8000 });
      steps.push(step);
      plan.log(`  ${plan.label} ${Math.round(rate)}/s: ${describeStep(step)}`);
      if (step.pass) return true;
      const noisy = step.latencyOnly && (step.latency.p99Ms < plan.sloMs * 4 || step.otherCores >= 0.25);
      if (attempt >= 1 || !noisy || !budgetLeft()) return false;
    }
  };
  let lo = 0;
  let hi = Number.POSITIVE_INFINITY;
  const factor = plan.hint ? 1.25 : 1.5;
  let rate = plan.hint ? plan.hint * 0.8 : plan.start;
  while (hi === Number.POSITIVE_INFINITY && rate <= plan.max && budgetLeft()) {
    if (await probe(rate)) {
      lo = rate;
      rate *= factor;
    } else {
      hi = rate;
    }
  }
  // Nothing passed: walk down (at most three halvings) to find any sustainable rate.
  for (let downs = 0; lo === 0 && downs < 3 && hi < Number.POSITIVE_INFINITY && budgetLeft(); downs++) {
    rate = hi / 2;
    if (await probe(rate)) lo = rate;
    else hi = rate;
  }
  for (let i = 0; i < 2 && lo > 0 && hi < Number.POSITIVE_INFINITY && budgetLeft(); i++) {
    const mid = Math.sqrt(lo * hi);
    if (await probe(mid)) lo = mid;
    else hi = mid;
  }
  return { sustainable: Math.round(lo), steps };
}
