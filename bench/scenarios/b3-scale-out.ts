/**
 * B3 scale-out: the B2 rooms-of-2 search with one worker and with two, nothing pinned (two
 * workers need both cores), two load-generator processes in both cases. Users land on workers by
 * least-connection, so most rooms span both workers and every message crosses Redis. Two workers
 * also run one step at one worker's sustainable rate, so the CPU per message of both shapes is
 * compared at the same offered load.
 *
 * On a 2-core box the load generator and Redis share the cores with the server: `boxCeiling`, from
 * the same run, is the most two ÷ one the box has room for at this server's costs per message: a
 * faster server lowers it, a cheaper load generator or Redis raises it.
 */
import { availableParallelism } from "node:os";
import type { TargetKind } from "../lib/target.js";
import { runSmallRooms } from "./b2-small-rooms.js";
import { type BenchOptions, type Golden, round } from "./harness.js";
import { bestStep, type SearchResult, type StepResult } from "./steps.js";

export interface B3Result {
  target: TargetKind;
  one: SearchResult;
  two: SearchResult;
  /** Two workers at one worker's sustainable rate (absent when one worker sustained nothing). */
  twoAtOnesRate?: StepResult;
  /** Sustainable msg/s, two workers ÷ one. */
  ratio: number;
  /**
   * Server CPU-µs per message at one worker's sustainable rate, one worker ÷ two (1.0 = no
   * overhead from the split): two workers on cores of their own would carry about 2 × this.
   */
  cpuEfficiency: number;
  /**
   * The most "two ÷ one" this machine has room for: its cores ÷ the cores the whole machine was
   * busy (server, Redis, load generators, kernel) at one worker's sustainable rate. It holds
   * while two workers spend no less CPU per message than one (cpuEfficiency ≤ 1), since Redis
   * and the load generator cost about the same per message in both shapes.
   */
  boxCeiling: number;
}

export interface B3Hints {
  one?: number;
  two?: number;
}

export async function runB3(kind: TargetKind, golden: Golden | undefined, options: BenchOptions, hints: B3Hints): Promise<B3Result> {
  const one = (await runSmallRooms(kind, golden, options, { workers: 1, agents: 2, hint: hints.one, label: "B3 1w" })).search;
  const alsoAt = one.sustainable > 0 ? one.sustainable : undefined;
  const two = await runSmallRooms(kind, golden, options, { workers: 2, agents: 2, hint: hints.two, alsoAt, label: "B3 2w" });
  const oneBest = bestStep(one.steps);
  const oneCpu = oneBest?.serverCpuUsPerMsg ?? 0;
  const twoCpu = two.alsoAt?.serverCpuUsPerMsg ?? 0;
  return {
    target: kind,
    one,
    two: two.search,
    twoAtOnesRate: two.alsoAt,
    ratio: one.sustainable > 0 ? round(two.search.sustainable / one.sustainable, 3) : 0,
    cpuEfficiency: twoCpu > 0 ? round(oneCpu / twoCpu, 3) : 0,
    boxCeiling: oneBest && oneBest.boxCores > 0 ? round(availableParallelism() / oneBest.boxCores, 3) : 0,
  };
}
