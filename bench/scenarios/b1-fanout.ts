/**
 * B1 fan-out: one room of 1,000 sockets; ten members send, the server broadcasts each message to
 * all 1,000 (the sender included). One worker, so CPU per delivery is per core. Reported at fixed
 * offered delivery rates; the headline is server CPU-µs per delivery at 100k/s.
 *
 * A server's CPU per delivery falls as its load rises, since it writes the messages that arrive
 * together to each socket in one system call: 1e6 ÷ the CPU-µs at 100k/s is not what one core
 * can carry. So the rate per core is measured where the server carries the most per core, up to
 * 200k/s offered, and reported with that step's p99.
 */
import type { TargetKind } from "../lib/target.js";
import type { Slot } from "../loadgen/protocol.js";
import { type BenchOptions, bySize, type Population, type Run } from "./harness.js";
import { runStep, type StepResult } from "./steps.js";

export interface B1Result {
  target: TargetKind;
  sockets: number;
  steps: StepResult[];
  /** Deliveries/s offered at the headline step: 100k (less in quick and smoke runs). */
  headlineOffered: number;
  /** At the headline step. */
  cpuUsPerDelivery: number;
  p99Ms: number;
  /** Deliveries per second per core of server CPU (delivered/s ÷ server cores), at the step where it is highest. */
  deliveriesPerCoreSec: number;
  /** p99 at that step, and whether the load generator was above 90 % of a core there. */
  perCoreP99Ms: number;
  perCoreClientBound: boolean;
  maxDeliveredPerSec: number;
  clientBound: boolean;
}

export const FANOUT_ROOM = "#b1-fanout";

/**
 * Runs B1's steps on an open one-worker run whose population has every socket in FANOUT_ROOM
 * (one-worker.ts shares the run and its sockets with B2 and B6).
 */
export async function measureFanout(run: Run, pop: Population, kind: TargetKind, options: BenchOptions): Promise<B1Result> {
  const sockets = pop.fanout[FANOUT_ROOM] ?? 0;
  const offered = bySize(options, { full: [50_000, 100_000, 150_000, 200_000], quick: [10_000, 20_000], smoke: [1000] });
  const headline = bySize(options, { full: 100_000, quick: 20_000, smoke: 1000 });
  // Ten senders share the sends so no single socket's rate limit or buffer shapes the result.
  const slots: Slot[] = pop.socketsOf.slice(0, 10).map((mine) => ({ client: mine[0] as number, room: FANOUT_ROOM }));
  const steps: StepResult[] = [];
  for (const deliveries of offered) {
    const step = await runStep(run, {
      rate: deliveries / sockets,
      slots,
      fanout: pop.fanout,
      warmMs: bySize(options, { full: 1000, quick: 1000, smoke: 500 }),
      measureMs: bySize(options, { full: 3000, quick: 2000, smoke: 1000 }),
      sloMs: 50,
    });
    options.log(
      `  B1 ${kind} ${deliveries / 1000}k deliveries/s: got ${Math.round(step.deliveredPerSec / 1000)}k/s, ${step.serverCpuUsPerDelivery} µs/delivery, ` +
        `p99 ${step.latency.p99Ms} ms, server ${Math.round(step.serverCores * 100)} %, client ${Math.round(step.clientCores * 100)} %, other ${Math.round(step.otherCores * 100)} %`,
    );
    steps.push(step);
  }
  const head = steps[offered.indexOf(headline)] ?? steps[steps.length - 1];
  const perCore = (step: StepResult): number => (step.serverCores > 0 ? step.deliveredPerSec / step.serverCores : 0);
  const busiest = steps.reduce((best, step) => (perCore(step) > perCore(best) ? step : best));
  return {
    target: kind,
    sockets,
    steps,
    headlineOffered: headline,
    cpuUsPerDelivery: head?.serverCpuUsPerDelivery ?? 0,
    p99Ms: head?.latency.p99Ms ?? 0,
    deliveriesPerCoreSec: Math.round(perCore(busiest)),
    perCoreP99Ms: busiest.latency.p99Ms,
    perCoreClientBound: busiest.clientBound,
    maxDeliveredPerSec: Math.max(...steps.map((s) => s.deliveredPerSec)),
    clientBound: steps.some((s) => s.clientBound),
  };
}
