/** The JSON a bench run writes (bench/results/latest.json): raw results per run plus the verdicts. */
import type { TargetKind } from "../lib/target.js";
import type { B1Result } from "../scenarios/b1-fanout.js";
import type { B2Result } from "../scenarios/b2-small-rooms.js";
import type { B3Result } from "../scenarios/b3-scale-out.js";
import type { B4Result } from "../scenarios/b4-idle.js";
import type { B5Result } from "../scenarios/b5-storm.js";
import type { B6Result } from "../scenarios/b6-overload.js";
import type { B7Result } from "../scenarios/b7-hosts.js";
import type { Size } from "../scenarios/harness.js";

export type ScenarioId = "B1" | "B2" | "B3" | "B4" | "B5" | "B6" | "B7";
export const SCENARIOS: readonly ScenarioId[] = ["B1", "B2", "B3", "B4", "B5", "B6", "B7"];

export interface ScenarioResults {
  B1: B1Result;
  B2: B2Result;
  B3: B3Result;
  B4: B4Result;
  B5: B5Result;
  B6: B6Result;
  B7: B7Result;
}

/** One execution of one scenario against one target; `rep` pairs the project's run with the reference's. */
export interface RunRecord<S extends ScenarioId = ScenarioId> {
  scenario: S;
  target: TargetKind;
  rep: number;
  startedAt: string;
  seconds: number;
  /** CPU cores busy with other work on the box just before the run (see harness.waitQuiet). */
  boxBusyBefore?: number;
  result?: ScenarioResults[S];
  error?: string;
}

export interface Verdict {
  scenario: ScenarioId;
  /** What is compared, in words. */
  metric: string;
  /** The target as the issue states it, e.g. "≥ 1.0×". */
  target: string;
  /** Median over the repetitions (ratios are paired per repetition). */
  value: number | null;
  min: number | null;
  max: number | null;
  unit: string;
  /** null when it could not be measured (a run failed or the scenario was not run). */
  met: boolean | null;
  /** Context: the reference's figure, the box's limit, why it is unmet. */
  note?: string;
  /** For the chart: "max" targets are met at or below `limit`, "min" at or above. */
  kind: "max" | "min" | "zero" | "flag";
  limit: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  redis: string;
  openFilesHard: string;
  somaxconn: string;
  portRange: string;
  loadAverageAtStart: string;
  commit: string;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  seconds: number;
  command: string;
  options: { size: Size; runs: number; contextRuns: number; pin: boolean; scenarios: ScenarioId[]; targets: TargetKind[] };
  machine: Machine;
  runs: RunRecord[];
  verdicts: Verdict[];
}
