/**
 * `npm run bench:steady -- --rate 13000`: B2's set-up (one worker, 1,000 sockets, each in its room
 * of 2 and of 10; B3's two workers with `--workers 2`) with one offered rate repeated step after
 * step, for comparing two builds or two settings. The saturation search of `npm run bench` moves
 * more between runs of the same code on a shared 2-core box than most changes do; the same step
 * repeated gives how often p99 holds and the median CPU per message at that rate, which moves less
 * (docs/performance.md, "Reproduce").
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { PATHS } from "./lib/paths.js";
import type { TargetKind } from "./lib/target.js";
import { logLine as log } from "./lib/time.js";
import { spread } from "./report/verdicts.js";
import { connectAll, groupRoom, pairRoom, slotsFor } from "./scenarios/b2-small-rooms.js";
import { population, waitQuiet, withRun } from "./scenarios/harness.js";
import { describeStep, runStep, type StepPlan, type StepResult } from "./scenarios/steps.js";
import { prepareUsers } from "./scenarios/users.js";

const HELP = `npm run bench:steady -- --rate N [flags]

  --rate N          messages per second offered in every step (required)
  --steps N         measured steps (default 10), after one unmeasured step at 70 % of the rate
  --rooms 2|10      B2's rooms of 2 (default) or of 10
  --target ours|ref the project (default) or the reference relay
  --workers 1|2     server workers (default 1; B3 compares 1 and 2)
  --agents N        load-generator processes (default 1; B3 uses 2)
  --event send|edit what each step sends (default send); edit: every socket sends one message in
                    the unmeasured first step, then edits it (message:edit → message:edited),
                    to compare the cost of an edit with a message's (project only)

Prints every step and a summary; writes
bench/results/partial.tmp/steady-<target>-<rooms>-<rate>-<workers>w.json.
BENCH_SERVER_NODE_ARGS works as for \`npm run bench\`.
`;

const SOCKETS = 1000;
const SLO_MS = 50;

interface Args {
  rate: number;
  steps: number;
  rooms: 2 | 10;
  target: TargetKind;
  workers: 1 | 2;
  agents: number;
  event: "send" | "edit";
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: "string" },
      steps: { type: "string", default: "10" },
      rooms: { type: "string", default: "2" },
      target: { type: "string", default: "ours" },
      workers: { type: "string", default: "1" },
      agents: { type: "string", default: "1" },
      event: { type: "string", default: "send" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const rate = Number(values.rate);
  const steps = Number(values.steps);
  if (!Number.isInteger(rate) || rate < 1 || rate > 200_000) throw new Error("--rate must be 1..200000 messages per second");
  if (!Number.isInteger(steps) || steps < 1 || steps > 100) throw new Error("--steps must be 1..100");
  if (values.rooms !== "2" && values.rooms !== "10") throw new Error("--rooms must be 2 or 10");
  if (values.target !== "ours" && values.target !== "ref") throw new Error("--target must be ours or ref");
  if (values.workers !== "1" && values.workers !== "2") throw new Error("--workers must be 1 or 2");
  const agents = Number(values.agents);
  if (!Number.isInteger(agents) || agents < 1 || agents > 4) throw new Error("--agents must be 1..4");
  if (values.event !== "send" && values.event !== "edit") throw new Error("--event must be send or edit");
  if (values.event === "edit" && values.target !== "ours") throw new Error("--event edit needs --target ours (the reference has no edits)");
  return {
    rate,
    steps,
    rooms: values.rooms === "2" ? 2 : 10,
    target: values.target,
    workers: values.workers === "1" ? 1 : 2,
    agents,
    event: values.event,
  };
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  const golden = args.target === "ours" ? await prepareUsers(SOCKETS, log, false) : undefined;
  await waitQuiet(log);
  const steps = await withRun({ kind: args.target, workers: args.workers, pin: false, agents: args.agents }, golden, log, async (run) => {
    const pop = population(await run.accounts(SOCKETS), 1, (u) => [pairRoom(u), groupRoom(u)]);
    await connectAll(run, pop, "steady");
    const plan: StepPlan = {
      rate: args.rate,
      slots: slotsFor(pop, args.rooms === 2 ? pairRoom : groupRoom),
      fanout: pop.fanout,
      warmMs: 1000,
      measureMs: 2500,
      sloMs: SLO_MS,
      drainMs: 8000,
      ...(args.event === "edit" ? { event: "edit" as const } : {}),
    };
    await runStep(run, { ...plan, rate: Math.round(args.rate * 0.7) });
    const measured: StepResult[] = [];
    for (let i = 1; i <= args.steps; i++) {
      const step = await runStep(run, plan);
      measured.push(step);
      log(`  ${args.target} rooms of ${args.rooms} ${args.rate}/s step ${i}/${args.steps}: ${describeStep(step)}`);
    }
    return measured;
  });

  const summary = {
    target: args.target,
    event: args.event,
    rooms: args.rooms,
    rate: args.rate,
    passed: steps.filter((s) => s.pass).length,
    steps: steps.length,
    p99Ms: spread(steps.map((s) => s.latency.p99Ms)),
    serverCpuUsPerMsg: spread(steps.map((s) => s.serverCpuUsPerMsg)),
    serverCpuUsPerDelivery: spread(steps.map((s) => s.serverCpuUsPerDelivery)),
    serverCores: spread(steps.map((s) => s.serverCores)),
    redisCores: spread(steps.map((s) => s.redisCores)),
    clientCores: spread(steps.map((s) => s.clientCores)),
  };
  const dir = join(PATHS.results, "partial.tmp");
  const event = args.event === "edit" ? "-edit" : "";
  const file = join(dir, `steady-${args.target}${event}-${args.rooms}-${args.rate}-${args.workers}w.json`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify({ summary, steps }, null, 1)}\n`);
  const { p99Ms, serverCpuUsPerMsg: us, serverCpuUsPerDelivery: perDelivery } = summary;
  log(
    `${args.target} ${args.event}, rooms of ${args.rooms}, ${args.rate} msg/s: ${summary.passed}/${summary.steps} steps with p99 ≤ ${SLO_MS} ms; ` +
      `p99 median ${p99Ms.median} ms (${p99Ms.min}–${p99Ms.max}); ${us.median} µs/msg (${us.min}–${us.max}); ` +
      `${perDelivery.median} µs/delivery (${perDelivery.min}–${perDelivery.max}); ${relative(PATHS.root, file)}`,
  );
}

main().catch((err: unknown) => {
  log(`bench:steady failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
