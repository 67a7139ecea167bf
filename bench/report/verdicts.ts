/**
 * Turns the runs into the targets: medians and spread over the repetitions, ratios paired
 * per repetition (the project's run and the reference's ran back to back, alternating order).
 */
import type { TargetKind } from "../lib/target.js";
import type { RunRecord, ScenarioId, ScenarioResults, Verdict } from "./types.js";

export interface Spread {
  median: number | null;
  min: number | null;
  max: number | null;
}

export function spread(values: readonly number[]): Spread {
  // Infinity stays in: it stands for "never" (not all back, never recovered) and must count.
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: null, min: null, max: null };
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
  return { median: round(median), min: round(v[0] as number), max: round(v[v.length - 1] as number) };
}

function round(x: number): number {
  return Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000;
}

/** The successful results of one scenario and target, by repetition. */
export function resultsOf<S extends ScenarioId>(
  runs: readonly RunRecord[],
  scenario: S,
  target: TargetKind,
): Map<number, ScenarioResults[S]> {
  const out = new Map<number, ScenarioResults[S]>();
  for (const run of runs) {
    if (run.scenario === scenario && run.target === target && run.result) out.set(run.rep, run.result as ScenarioResults[S]);
  }
  return out;
}

function values<S extends ScenarioId>(
  runs: readonly RunRecord[],
  scenario: S,
  target: TargetKind,
  pick: (r: ScenarioResults[S]) => number | null,
): number[] {
  return [...resultsOf(runs, scenario, target).values()].map(pick).filter((x): x is number => x !== null);
}

/** ours ÷ ref per repetition, for the repetitions where both ran. */
function ratios<S extends ScenarioId>(runs: readonly RunRecord[], scenario: S, pick: (r: ScenarioResults[S]) => number): number[] {
  const ours = resultsOf(runs, scenario, "ours");
  const ref = resultsOf(runs, scenario, "ref");
  const out: number[] = [];
  for (const [rep, o] of ours) {
    const r = ref.get(rep);
    if (r && pick(r) > 0) out.push(pick(o) / pick(r));
  }
  return out;
}

function verdict(base: Omit<Verdict, "value" | "min" | "max" | "met">, s: Spread, failedRuns: number): Verdict {
  let met: boolean | null = null;
  if (s.median !== null) {
    if (base.kind === "max") met = s.median <= base.limit;
    else if (base.kind === "min") met = s.median >= base.limit;
    else met = (s.max ?? 0) <= base.limit; // "zero"/"flag": every repetition must pass
  }
  const notes = [base.note];
  if (failedRuns > 0) notes.push(`${failedRuns} run(s) failed, see runs[].error`);
  if ([s.median, s.min, s.max].includes(Number.POSITIVE_INFINITY)) notes.push("∞ = never happened within the observation window");
  const finite = (x: number | null): number | null => (x === null || Number.isFinite(x) ? x : null);
  return {
    ...base,
    note: notes.filter(Boolean).join("; ") || undefined,
    value: finite(s.median),
    min: finite(s.min),
    max: finite(s.max),
    met,
  };
}

/** B3's ceiling: a result file from before `boxCeiling` existed has none. */
function roomNote(s: Spread): string | undefined {
  return s.median === null
    ? undefined
    : `this machine has room for at most ${s.median}× (${s.min}–${s.max}) at the project's costs per message`;
}

export function computeVerdicts(runs: readonly RunRecord[], scenarios: readonly ScenarioId[]): Verdict[] {
  const out: Verdict[] = [];
  const failed = (id: ScenarioId): number => runs.filter((r) => r.scenario === id && r.error).length;
  const refNote = (label: string, s: Spread, unit: string): string | undefined => {
    if (s.median === null) return undefined;
    const value = Number.isFinite(s.median) ? String(s.median) : "∞";
    return ["reference", label, value, unit].filter(Boolean).join(" ");
  };

  if (scenarios.includes("B1")) {
    out.push(
      verdict(
        {
          scenario: "B1",
          metric: "server CPU per delivery, project ÷ reference (1 room × 1,000)",
          target: "≤ 1.1×",
          unit: "×",
          kind: "max",
          limit: 1.1,
          note: refNote("", spread(values(runs, "B1", "ref", (r) => r.cpuUsPerDelivery)), "µs/delivery"),
        },
        spread(ratios(runs, "B1", (r) => r.cpuUsPerDelivery)),
        failed("B1"),
      ),
      verdict(
        {
          scenario: "B1",
          metric: "deliveries per second per core (project, delivered/s ÷ server cores, best of B1's steps)",
          target: "≥ 150k/s",
          unit: "/s",
          kind: "min",
          limit: 150_000,
          note: refNote("", spread(values(runs, "B1", "ref", (r) => r.deliveriesPerCoreSec)), "/s"),
        },
        spread(values(runs, "B1", "ours", (r) => r.deliveriesPerCoreSec)),
        failed("B1"),
      ),
    );
  }
  if (scenarios.includes("B2")) {
    const room = (label: string, pick: (r: ScenarioResults["B2"]) => number): Verdict =>
      verdict(
        {
          scenario: "B2",
          metric: `sustainable msg/s at p99 ≤ 50 ms, ${label}, project ÷ reference (persisted + acked)`,
          target: "≥ 1.0×",
          unit: "×",
          kind: "min",
          limit: 1.0,
          note: `project ${spread(values(runs, "B2", "ours", pick)).median ?? "–"} msg/s, reference ${spread(values(runs, "B2", "ref", pick)).median ?? "–"} msg/s`,
        },
        spread(ratios(runs, "B2", pick)),
        failed("B2"),
      );
    out.push(
      room("rooms of 2", (r) => r.pair.sustainable),
      room("rooms of 10", (r) => r.group?.sustainable ?? 0),
    );
    const lost = values(runs, "B2", "ours", (r) => (r.persistence ? Math.max(0, r.persistence.acked - r.persistence.stored) : null));
    out.push(
      verdict(
        {
          scenario: "B2",
          metric: "acked messages missing from their room stream (project)",
          target: "0",
          unit: "messages",
          kind: "zero",
          limit: 0,
        },
        spread(lost),
        failed("B2"),
      ),
    );
  }
  if (scenarios.includes("B3")) {
    out.push(
      verdict(
        {
          scenario: "B3",
          metric: "sustainable msg/s, two workers ÷ one (project, rooms of 2)",
          target: "≥ 1.6×",
          unit: "×",
          kind: "min",
          limit: 1.6,
          note: [
            refNote("same ratio:", spread(values(runs, "B3", "ref", (r) => r.ratio)), "×"),
            roomNote(spread(values(runs, "B3", "ours", (r) => r.boxCeiling || null))),
          ]
            .filter(Boolean)
            .join("; "),
        },
        spread(values(runs, "B3", "ours", (r) => r.ratio)),
        failed("B3"),
      ),
    );
  }
  if (scenarios.includes("B4")) {
    out.push(
      verdict(
        {
          scenario: "B4",
          metric: "RSS per idle connection after GC (project, 2 workers)",
          target: "≤ 12 KB",
          unit: "KB",
          kind: "max",
          limit: 12,
          note: refNote("", spread(values(runs, "B4", "ref", (r) => r.rssPerConnKB)), "KB"),
        },
        spread(values(runs, "B4", "ours", (r) => r.rssPerConnKB)),
        failed("B4"),
      ),
    );
  }
  if (scenarios.includes("B5")) {
    const worst = (pick: (r: ScenarioResults["B5"]) => number | null) => spread(values(runs, "B5", "ours", pick));
    // "Back within 5 s" is per client: from the moment its socket dropped until its welcome. A
    // rolling restart drops sockets over several seconds on purpose (the drain), so the time from
    // the SIGHUP until the last one is back measures the restart, not any client's outage; it is
    // reported in the B5 table ("all back after"), not judged.
    const longestOutage = (r: ScenarioResults["B5"]): number | null => {
      const ran = r.phases.filter((p) => !p.skipped);
      if (ran.length < 2 || ran.some((p) => !p.allBack)) return Number.POSITIVE_INFINITY;
      return Math.max(...ran.map((p) => p.outageMaxMs)) / 1000;
    };
    out.push(
      verdict(
        {
          scenario: "B5",
          metric: "longest any of the 9k sockets was down, kill-one-worker and restart-all (worst phase, s)",
          target: "100 % within 5 s",
          unit: "s",
          kind: "zero",
          limit: 5,
          note: refNote("", spread(values(runs, "B5", "ref", longestOutage)), "s"),
        },
        worst(longestOutage),
        failed("B5"),
      ),
      verdict(
        { scenario: "B5", metric: "failed handshakes during the storms (project)", target: "0", unit: "", kind: "zero", limit: 0 },
        worst((r) => r.phases.reduce((n, p) => n + p.failedHandshakes, 0)),
        failed("B5"),
      ),
      verdict(
        {
          scenario: "B5",
          metric: "acked messages lost (project)",
          target: "0",
          unit: "",
          kind: "zero",
          limit: 0,
          note: refNote("(no persistence, losses expected):", spread(values(runs, "B5", "ref", (r) => r.ackedLost)), ""),
        },
        worst((r) => r.ackedLost),
        failed("B5"),
      ),
    );
  }
  if (scenarios.includes("B6")) {
    out.push(
      verdict(
        {
          scenario: "B6",
          metric: "RSS growth at 2× saturation for 20 s (project)",
          target: "≤ 200 MB",
          unit: "MB",
          kind: "max",
          limit: 200,
          note: [
            refNote("", spread(values(runs, "B6", "ref", (r) => r.growthMB)), "MB"),
            `load generator reached ${spread(values(runs, "B6", "ours", (r) => r.overload.sentPerSec / r.saturation)).median ?? "–"}× the project's saturation ` +
              `(${spread(values(runs, "B6", "ref", (r) => r.overload.sentPerSec / r.saturation)).median ?? "–"}× the reference's)`,
          ]
            .filter(Boolean)
            .join("; "),
        },
        spread(values(runs, "B6", "ours", (r) => r.growthMB)),
        failed("B6"),
      ),
      verdict(
        {
          scenario: "B6",
          metric: "p99 back under 50 ms after the load drops to half (project, s)",
          target: "≤ 5 s",
          unit: "s",
          kind: "max",
          limit: 5,
          note: refNote(
            "",
            spread(values(runs, "B6", "ref", (r) => (r.recoveryMs === null ? Number.POSITIVE_INFINITY : r.recoveryMs / 1000))),
            "s",
          ),
        },
        spread(values(runs, "B6", "ours", (r) => (r.recoveryMs === null ? Number.POSITIVE_INFINITY : r.recoveryMs / 1000))),
        failed("B6"),
      ),
    );
  }
  if (scenarios.includes("B7")) {
    const idle = (r: ScenarioResults["B7"]) => {
      const figures = r.shapes.map((shape) => shape.idleCpuUsPerClusterMsg).filter((x): x is number => x !== null);
      return figures.length > 0 ? Math.max(...figures) : null;
    };
    out.push(
      verdict(
        {
          scenario: "B7",
          metric: "CPU a host without clients spends per message of the cluster (highest over B7's shapes, above its quiet CPU)",
          target: "≤ 1 µs",
          unit: "µs",
          kind: "max",
          limit: 1,
        },
        spread(values(runs, "B7", "ours", idle)),
        failed("B7"),
      ),
    );
    const busiestShard = (r: ScenarioResults["B7"]) => {
      const sharded = r.shapes.filter((shape) => shape.redis.length > 1);
      return sharded.length > 0 ? Math.max(...sharded.flatMap((shape) => shape.redis.map((shard) => shard.share))) : null;
    };
    out.push(
      verdict(
        {
          scenario: "B7",
          metric: "the busiest Redis Cluster master's part of the Redis CPU (3 masters, rooms of 2, highest over B7's shapes)",
          target: "≤ 0.45",
          unit: "",
          kind: "max",
          limit: 0.45,
        },
        spread(values(runs, "B7", "ours", busiestShard)),
        failed("B7"),
      ),
    );
  }
  return out;
}
