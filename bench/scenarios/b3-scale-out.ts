/**
 * B3 scale-out: the B2 rooms-of-2 search with one worker and with two, nothing pinned (two
 * workers need both cores), two load-generator processes in both cases. Users land on workers by
 * least-connection, so most rooms span both workers and every message crosses Redis.
 *
 * On a 2-core box the load generator and Redis share the cores with the server, so the
 * reference's own ratio, measured in the same run, is the ceiling this box can show.
 */
import type { TargetKind } from "../lib/target.js";
import { runSmallRooms } from "./b2-small-rooms.js";
import { type BenchOptions, type Golden, round } from "./harness.js";
import type { SearchResult } from "./steps.js";

export interface B3Result {
  target: TargetKind;
  one: SearchResult;
  two: SearchResult;
  /** Sustainable msg/s, two workers ÷ one. */
  ratio: number;
  /** Server CPU-µs per message at the highest passing step, one worker ÷ two (1.0 = no overhead from the split). */
  cpuEfficiency: number;
}

export interface B3Hints {
  one?: number;
  two?: number;
}

export async function runB3(kind: TargetKind, golden: Golden | undefined, options: BenchOptions, hints: B3Hints): Promise<B3Result> {
  const one = (await runSmallRooms(kind, golden, options, { workers: 1, agents: 2, hint: hints.one, label: "B3 1w" })).pair;
  const two = (await runSmallRooms(kind, golden, options, { workers: 2, agents: 2, hint: hints.two, label: "B3 2w" })).pair;
  const cpuAtBest = (s: SearchResult): number => {
    const passing = s.steps.filter((step) => step.pass).sort((a, b) => b.offered - a.offered)[0];
    return passing?.serverCpuUsPerMsg ?? 0;
  };
  const c1 = cpuAtBest(one);
  const c2 = cpuAtBest(two);
  return {
    target: kind,
    one,
    two,
    ratio: one.sustainable > 0 ? round(two.sustainable / one.sustainable, 3) : 0,
    cpuEfficiency: c2 > 0 ? round(c1 / c2, 3) : 0,
  };
}
