/**
 * `npm run bench`: runs the scenarios against the project and the reference relay, alternating
 * which goes first in each repetition, and writes the JSON, the SVG chart and the generated part
 * of docs/performance.md. See docs/performance.md for the method; `--help` for the flags.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fingerprint } from "./lib/machine.js";
import { PATHS } from "./lib/paths.js";
import type { TargetKind } from "./lib/target.js";
import { logLine as log } from "./lib/time.js";
import { renderSection, updateDocs } from "./report/markdown.js";
import { renderSvg } from "./report/svg.js";
import { type BenchReport, type RunRecord, SCENARIOS, type ScenarioId, type ScenarioResults } from "./report/types.js";
import { computeVerdicts, spread } from "./report/verdicts.js";
import { runB3 } from "./scenarios/b3-scale-out.js";
import { runB7 } from "./scenarios/b7-hosts.js";
import { type BenchOptions, bySize, type Golden, type Size, waitQuiet } from "./scenarios/harness.js";
import { runOneWorker } from "./scenarios/one-worker.js";
import { runTwoWorkers } from "./scenarios/two-workers.js";
import { prepareUsers } from "./scenarios/users.js";

const HELP = `npm run bench -- [flags]

  --quick              small numbers and short steps (about 4 min); not comparable to full runs
  --smoke              toy numbers (seconds per scenario), both targets and two lanes of
                       scenarios at once: checks that every scenario runs end to end (npm test
                       runs it); its figures mean nothing
  --scenario B2,B5     only these scenarios (B1..B7; repeatable); default all
  --runs N             repetitions per target (default 3, quick and smoke 1)
  --context-runs N     repetitions of the reference in B3, B4, B5, whose targets are the
                       project's own figures (default 1; B1, B2, B6 run both targets N times;
                       B7 runs the project only: several hosts of the reference share nothing)
  --target ours|ref    only one target (ratios then cannot be computed)
  --pin                pin one-worker servers to CPU 0 and load generators to CPU 1 (off by
                       default: on a shared box a neighbour on CPU 0 would starve the server)
  --fresh-users        register the benchmark users again instead of reusing the cached snapshot

  --render FILE        no runs: rewrite the chart, the page section and latest.json from a
                       results JSON (e.g. bench/results/partial.tmp/progress.json, which every
                       run updates as it goes, so an interrupted bench keeps its data)
  --docs / --no-docs   write bench/results/latest.* and docs/performance.md (default: only for a
                       full run of every scenario against both targets; other runs write to
                       bench/results/partial.tmp/)
  --out DIR            where runs that do not write the docs put their files (default
                       bench/results/partial.tmp)

Environment: BENCH_REDIS_CLUSTER_NODES=host:port,... runs B7 on that Redis Cluster (its masters,
  without a password) instead of a cluster of 3 masters of its own; the benchmark users are
  copied into it (redis-cli --cluster import).
BENCH_SERVER_NODE_ARGS is put before the servers' script on their node command line,
  e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them under load.
`;

interface Args {
  size: Size;
  runs: number;
  contextRuns: number;
  scenarios: ScenarioId[];
  targets: TargetKind[];
  pin: boolean;
  docs: boolean;
  freshUsers: boolean;
  /** Re-render the outputs from this results JSON instead of running. */
  render: string | undefined;
  out: string;
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      out: { type: "string" },
      scenario: { type: "string", multiple: true },
      runs: { type: "string" },
      "context-runs": { type: "string" },
      target: { type: "string", multiple: true },
      pin: { type: "boolean", default: false },
      "fresh-users": { type: "boolean", default: false },
      docs: { type: "boolean" },
      "no-docs": { type: "boolean" },
      render: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const scenarios = (values.scenario ?? [...SCENARIOS])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  for (const s of scenarios) if (!SCENARIOS.includes(s as ScenarioId)) throw new Error(`unknown scenario ${s} (B1..B7)`);
  const targets = (values.target ?? ["ours", "ref"]).flatMap((t) => t.split(",")).map((t) => t.trim());
  for (const t of targets) if (t !== "ours" && t !== "ref") throw new Error(`unknown target ${t} (ours, ref)`);
  if (values.quick && values.smoke) throw new Error("--quick and --smoke exclude each other");
  const size: Size = values.smoke ? "smoke" : values.quick ? "quick" : "full";
  const runs = values.runs ? Number(values.runs) : size === "full" ? 3 : 1;
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error("--runs must be 1..20");
  const contextRuns = values["context-runs"] ? Number(values["context-runs"]) : 1;
  if (!Number.isInteger(contextRuns) || contextRuns < 1) throw new Error("--context-runs must be ≥ 1");
  const full = size === "full" && scenarios.length === SCENARIOS.length && targets.length === 2;
  return {
    size,
    runs,
    contextRuns,
    scenarios: SCENARIOS.filter((s) => scenarios.includes(s)),
    targets: targets as TargetKind[],
    pin: values.pin ?? false,
    docs: values["no-docs"] ? false : (values.docs ?? (full || values.render !== undefined)),
    freshUsers: values["fresh-users"] ?? false,
    render: values.render,
    out: resolve(values.out ?? join(PATHS.results, "partial.tmp")),
  };
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  if (args.render) return render(args.render, args.docs, args.out);
  const started = new Date();
  const options: BenchOptions = { size: args.size, pin: args.pin, log };
  const machine = fingerprint();
  log(
    `bench: ${args.scenarios.join(" ")} × ${args.targets.join("/")} × ${args.runs} run(s)${args.size === "full" ? "" : ` (${args.size})`}; ${machine.cores} cores, load ${machine.loadAverageAtStart}`,
  );

  if (args.targets.includes("ours") && !existsSync(PATHS.server)) {
    throw new Error(`${relative(PATHS.root, PATHS.server)} is missing: run \`node scripts/build.mjs\` first`);
  }
  const golden: Golden | undefined = args.targets.includes("ours")
    ? await prepareUsers(bySize(options, { full: 1000, quick: 200, smoke: 20 }), log, args.freshUsers)
    : undefined;

  const runs: RunRecord[] = [];
  /** The report as of now: written after every run, so an interrupted bench still leaves its data. */
  const snapshot = (): BenchReport => {
    const now = new Date();
    return {
      startedAt: started.toISOString(),
      finishedAt: now.toISOString(),
      seconds: Math.round((now.getTime() - started.getTime()) / 1000),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
      options: {
        size: args.size,
        runs: args.runs,
        contextRuns: args.contextRuns,
        pin: args.pin,
        scenarios: args.scenarios,
        targets: args.targets,
      },
      machine,
      runs,
      verdicts: computeVerdicts(runs, args.scenarios),
    };
  };
  const progress = join(args.out, "progress.json");
  mkdirSync(dirname(progress), { recursive: true });
  /** Earlier results of the same target and shape: later searches start near them. */
  const hint = <S extends ScenarioId>(
    id: S,
    target: TargetKind,
    pick: (r: ScenarioResults[S]) => number | undefined,
  ): number | undefined => {
    const values = runs
      .filter((r) => r.scenario === id && r.target === target && r.result)
      .map((r) => pick(r.result as ScenarioResults[S]) ?? 0);
    return spread(values.filter((v) => v > 0)).median ?? undefined;
  };
  let busyBefore = 0;
  const record = <S extends ScenarioId>(
    scenario: S,
    target: TargetKind,
    rep: number,
    at: Date,
    result?: ScenarioResults[S],
    error?: unknown,
  ): void => {
    const entry: RunRecord = {
      scenario,
      target,
      rep,
      startedAt: at.toISOString(),
      seconds: Math.round((Date.now() - at.getTime()) / 1000),
      boxBusyBefore: busyBefore,
    };
    if (result) entry.result = result;
    if (error !== undefined) entry.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    runs.push(entry);
    writeFileSync(progress, `${JSON.stringify(snapshot())}\n`);
  };
  /** Both targets in every repetition: the verdict is a ratio of the two. */
  const all = (): boolean => true;
  /**
   * The verdict is the project's own figure (B3, B4, B5): the reference runs for context only, by
   * default once, which keeps a full bench near 25 minutes (--context-runs raises it).
   */
  const contextOnlyOnce = (target: TargetKind, rep: number): boolean => target === "ours" || rep <= args.contextRuns;
  /** Runs one (scenario, target, repetition); a failure is recorded and the bench goes on. */
  const each = async (
    label: string,
    include: (target: TargetKind, rep: number) => boolean,
    body: (target: TargetKind, rep: number, at: Date) => Promise<void>,
    onError: (target: TargetKind, rep: number, at: Date, err: unknown) => void,
  ): Promise<void> => {
    for (let rep = 1; rep <= args.runs; rep++) {
      // Alternate who goes first, so drift of a shared box (thermal, neighbours) hits both alike.
      const order = rep % 2 === 1 ? (["ref", "ours"] as const) : (["ours", "ref"] as const);
      const targets = order.filter((t) => args.targets.includes(t) && include(t, rep));
      const runTarget = async (target: TargetKind): Promise<void> => {
        log(`${label} ${target} run ${rep}/${args.runs}`);
        busyBefore = await waitQuiet(log, bySize(options, { full: 60_000, quick: 15_000, smoke: 0 }));
        const at = new Date();
        try {
          await body(target, rep, at);
        } catch (err) {
          log(`${label} ${target} run ${rep} FAILED: ${(err as Error).message.split("\n")[0]}`);
          onError(target, rep, at, err);
        }
      };
      // A smoke run's figures mean nothing, so both targets run at once: it checks that they run.
      if (args.size === "smoke") await Promise.all(targets.map(runTarget));
      else for (const target of targets) await runTarget(target);
    }
  };
  const has = (id: ScenarioId): boolean => args.scenarios.includes(id);

  /** B1, B2 and B6 share their servers: one worker each. */
  const oneWorker = async (): Promise<void> => {
    if (!has("B1") && !has("B2") && !has("B6")) return;
    const ids = (["B1", "B2", "B6"] as const).filter((id) => has(id));
    await each(
      ids.join("+"),
      all,
      async (target, rep, at) => {
        const out = await runOneWorker(target, golden, options, {
          b1: has("B1"),
          b2: has("B2"),
          b6: has("B6"),
          hints: {
            pair: hint("B2", target, (r) => r.pair.sustainable) ?? hint("B6", target, (r) => r.saturation),
            group: hint("B2", target, (r) => r.group?.sustainable),
          },
        });
        if (out.b1) record("B1", target, rep, at, out.b1);
        if (out.b2) record("B2", target, rep, at, out.b2);
        if (out.b6) record("B6", target, rep, at, out.b6);
      },
      (target, rep, at, err) => {
        for (const id of ids) record(id, target, rep, at, undefined, err);
      },
    );
  };
  const scaleOut = async (): Promise<void> => {
    if (!has("B3")) return;
    await each(
      "B3",
      contextOnlyOnce,
      async (target, rep, at) => {
        const one = hint("B3", target, (r) => r.one.sustainable) ?? hint("B2", target, (r) => r.pair.sustainable);
        const two = hint("B3", target, (r) => r.two.sustainable) ?? (one ? one * 1.3 : undefined);
        record("B3", target, rep, at, await runB3(target, golden, options, { one, two }));
      },
      (target, rep, at, err) => record("B3", target, rep, at, undefined, err),
    );
  };
  /** B4 and B5 share their servers: two workers each. */
  const twoWorkers = async (): Promise<void> => {
    if (!has("B4") && !has("B5")) return;
    const ids = (["B4", "B5"] as const).filter((id) => has(id));
    await each(
      ids.join("+"),
      contextOnlyOnce,
      async (target, rep, at) => {
        const out = await runTwoWorkers(target, golden, options, { b4: has("B4"), b5: has("B5") });
        if (out.b4) record("B4", target, rep, at, out.b4);
        if (out.b5) record("B5", target, rep, at, out.b5);
      },
      (target, rep, at, err) => {
        for (const id of ids) record(id, target, rep, at, undefined, err);
      },
    );
  };
  const hosts = async (): Promise<void> => {
    if (!has("B7")) return;
    await each(
      "B7",
      (target) => target === "ours",
      async (target, rep, at) => record("B7", target, rep, at, await runB7(golden, options)),
      (target, rep, at, err) => record("B7", target, rep, at, undefined, err),
    );
  };

  const lanes = [
    [oneWorker, scaleOut],
    [twoWorkers, hosts],
  ];
  // A smoke run's figures mean nothing, so its two lanes run at once, as its targets do: it checks
  // that every scenario runs, in half the time.
  if (args.size === "smoke")
    await Promise.all(
      lanes.map(async (lane) => {
        for (const group of lane) await group();
      }),
    );
  else for (const group of lanes.flat()) await group();

  publish(snapshot(), args.docs, args.out);
}

/** Writes the JSON, the chart and the page section, and prints the verdicts. */
function publish(report: BenchReport, docs: boolean, out: string): void {
  const dir = docs ? PATHS.results : out;
  mkdirSync(dir, { recursive: true });
  const json = join(dir, docs ? "latest.json" : "results.json");
  const svg = join(dir, docs ? "latest.svg" : "chart.svg");
  writeFileSync(json, `${JSON.stringify(report, null, 1)}\n`);
  writeFileSync(svg, renderSvg(report));
  const section = renderSection(report, relative(join(PATHS.root, "docs"), svg));
  if (docs) updateDocs(PATHS.docs, section);
  else writeFileSync(join(dir, "section.md"), `${section}\n`);

  log(
    `${Math.round(report.seconds / 60)} min of runs: ${relative(PATHS.root, json)}, ${relative(PATHS.root, svg)}${docs ? ", docs/performance.md" : ""}`,
  );
  for (const v of report.verdicts) {
    const verdict = v.met === null ? "not measured" : v.met ? "met" : "NOT MET";
    log(
      `  ${v.scenario} ${v.metric}: ${v.value ?? "–"} ${v.unit} (${v.min ?? "–"}–${v.max ?? "–"}), target ${v.target}: ${verdict}${v.note ? ` [${v.note}]` : ""}`,
    );
  }
  const failed = report.runs.filter((r) => r.error).length;
  if (failed > 0) {
    log(`${failed} run(s) failed; see "error" in the JSON`);
    process.exitCode = 1;
  }
}

/** `--render FILE`: the outputs again from a results JSON (after a change to the report code). */
function render(file: string, docs: boolean, out: string): void {
  const report = JSON.parse(readFileSync(file, "utf8")) as BenchReport;
  report.verdicts = computeVerdicts(report.runs, report.options.scenarios);
  publish(report, docs, out);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
