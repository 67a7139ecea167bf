/**
 * `npm run bench -- --smoke`: every scenario against both targets at toy size, through the real
 * entry point (users registered through the API, a Redis and a server per run, load-generator
 * processes, the report), so no scenario can rot between full runs. Its figures mean nothing;
 * what is checked is that each scenario ran and reported what the issue asks of it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { PATHS } from "../../bench/lib/paths.js";
import type { TargetKind } from "../../bench/lib/target.js";
import { type BenchReport, type RunRecord, SCENARIOS, type ScenarioId, type ScenarioResults } from "../../bench/report/types.js";

function runBench(args: string[], tmp: string): Promise<{ code: number | null; output: string }> {
  // TMPDIR: the users are registered afresh instead of taken from another run's snapshot.
  const child = spawn(process.execPath, [join(PATHS.root, "dist/bench/run.js"), ...args], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

function resultOf<S extends ScenarioId>(report: BenchReport, scenario: S, target: TargetKind): ScenarioResults[S] | undefined {
  const run: RunRecord | undefined = report.runs.find((r) => r.scenario === scenario && r.target === target);
  return run?.result as ScenarioResults[S] | undefined;
}

// The whole benchmark at toy size: a few minutes, several times that on a machine busy with other work.
t.setTimeout(900_000);

t.test("npm run bench -- --smoke > every scenario runs end to end against both targets", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "bench-smoke-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const { code, output } = await runBench(["--smoke", "--out", dir], dir);

  t.equal(code, 0, "the run exits 0");
  if (code !== 0) t.comment(output.slice(-4000));
  const report = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as BenchReport;
  for (const scenario of SCENARIOS) {
    // B7's hosts share a Redis and a deployment: the reference relay has no such shape.
    for (const target of scenario === "B7" ? (["ours"] as const) : (["ours", "ref"] as const)) {
      const run = report.runs.find((r) => r.scenario === scenario && r.target === target);
      t.ok(run?.result && !run.error, `${scenario} ran against ${target}${run?.error ? `: ${run.error.split("\n")[0]}` : ""}`);
    }
  }

  const b1 = resultOf(report, "B1", "ours");
  t.equal(b1?.steps[0]?.deliveredRatio, 1, "B1: every broadcast delivered to every socket");
  // The searches must run and measure; whether this machine sustains any rate right now is its load's business.
  const b2 = resultOf(report, "B2", "ours");
  t.ok(b2 && b2.pair.steps.length > 0 && b2.pair.steps.every((s) => s.sentPerSec > 0), "B2: the search measured its steps");
  t.equal(b2?.persistence?.stored, b2?.persistence?.acked, "B2: every acked message is in its room stream");
  const b3 = resultOf(report, "B3", "ours");
  t.ok(b3 && b3.one.steps.length > 0 && b3.two.steps.length > 0, "B3: one worker and two workers searched");
  t.ok(b3 && Number.isFinite(b3.ratio) && Number.isFinite(b3.boxCeiling), "B3: two ÷ one and the machine's room computed");
  if (b3 && b3.one.sustainable > 0) {
    t.ok(b3.twoAtOnesRate && b3.cpuEfficiency > 0, "B3: two workers measured at one worker's sustainable rate");
  }
  const b4 = resultOf(report, "B4", "ours");
  t.equal(b4?.connections, 100, "B4: every idle socket connected");
  t.ok(b4 && b4.connecting.serverCores > 0 && b4.rssPerConnKB !== 0, "B4: CPU while connecting and RSS per socket measured");
  const b5 = resultOf(report, "B5", "ours");
  t.same(
    b5?.phases.map((p) => [p.trigger, p.allBack]),
    [
      ["kill-worker", true],
      ["restart-all", true],
    ],
    "B5: every socket came back after the kill and after the restart",
  );
  t.equal(b5?.ackedLost, 0, "B5: no acked message lost");
  t.ok(b5 && b5.storm.latency.count > 0, "B5: the messages' latency recorded through the storm");
  const b6 = resultOf(report, "B6", "ours");
  t.ok(b6 && b6.overload.latency.count > 0 && b6.overload.serverCores > 0, "B6: the overload window measured");
  const b7 = resultOf(report, "B7", "ours");
  t.same(
    b7?.shapes.map((shape) => [shape.hosts, shape.loaded, shape.layout, shape.deliveredRatio]),
    [
      [2, 1, "local", 1],
      [2, 2, "spread", 1],
    ],
    "B7: both shapes ran and every message reached both members of its room",
  );
  t.ok(
    b7?.shapes.every((shape) => shape.sentPerSec > 0 && shape.perHost.every((host) => host.sockets === 0 || host.cpuUsPerServedMsg > 0)),
    "B7: every loaded host's CPU per message served measured",
  );
  t.ok(b7 && b7.shapes[0]?.idleCpuUsPerClusterMsg !== null, "B7: the host without clients measured");
  t.ok(
    b7?.shapes.every((shape) => shape.redis.length === 3 && shape.redisCpuUsPerMsg > 0),
    "B7: Redis CPU per message measured over the cluster's 3 masters",
  );

  for (const scenario of SCENARIOS) {
    t.ok(
      report.verdicts.some((v) => v.scenario === scenario && v.value !== null),
      `${scenario}: a verdict with a measured value`,
    );
  }
  const section = readFileSync(join(dir, "section.md"), "utf8");
  t.match(section, /### Every scenario's common figures[\s\S]*B6 at 2× saturation/, "the page section has every scenario's common figures");
  t.match(section, /### B7 hosts[\s\S]*\| 2 \| 2 \| spread \|/, "the page section has B7's table");
});
