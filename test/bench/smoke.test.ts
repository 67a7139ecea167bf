/**
 * The benchmark harness, end to end at toy size, so it cannot rot: a redis-server of its own, the
 * project's server and the reference relay (two workers each), real logins, a measured load step,
 * a worker killed mid-load, and the report built from what came back. Child processes are the
 * compiled ones in dist/ (`npm test` builds first).
 */
import t from "tap";
import { concatLists } from "../../bench/lib/collections.js";
import { type RedisServer, startRedis } from "../../bench/lib/redis-server.js";
import type { TargetKind } from "../../bench/lib/target.js";
import { sleep, waitFor } from "../../bench/lib/time.js";
import { renderSection } from "../../bench/report/markdown.js";
import { renderSvg } from "../../bench/report/svg.js";
import type { BenchReport, RunRecord } from "../../bench/report/types.js";
import { computeVerdicts } from "../../bench/report/verdicts.js";
import type { B2Result } from "../../bench/scenarios/b2-small-rooms.js";
import { drain, population, REDIS_PREFIX, Run } from "../../bench/scenarios/harness.js";
import { runStep } from "../../bench/scenarios/steps.js";
import type { Conversation } from "../../src/realtime/events.js";
import { createKeys } from "../../src/store/keys.js";

const USERS = 4;
const SOCKETS_PER_USER = 3;
const room = (user: number): string => `#smoke-${user >> 1}`;

// Two servers under load and a worker kill: minutes on a busy box (the suite runs
// `npm run bench -- --smoke` beside it), more than tap's default per file.
t.setTimeout(600_000);

let redis: RedisServer;
const records: RunRecord[] = [];

t.before(async () => {
  redis = await startRedis();
});
t.teardown(async () => {
  await redis?.stop();
});

for (const kind of ["ours", "ref"] as const satisfies readonly TargetKind[]) {
  t.test(`bench harness > ${kind} server, toy load > delivers, acks, persists and survives a worker kill`, async (t) => {
    // Arrange: the server under test on the test's Redis, 12 sockets of 4 users in rooms of 2 users.
    await redis.command("FLUSHALL");
    const run = await Run.open({ kind, workers: 2, pin: false, agents: 1 }, undefined, { redis });
    t.teardown(() => run.close());
    const accounts = await run.accounts(USERS);
    const pop = population(accounts, SOCKETS_PER_USER, (u) => [room(u)]);
    const connect = await run.connect(pop, { trackIds: true, resend: true, rejoin: kind === "ref", reconnect: true });
    t.equal(connect.connected, USERS * SOCKETS_PER_USER, "every socket connected");
    t.same(connect.joinFailures, {}, "every room join acked");
    const slots = pop.socketsOf.map((sockets, user) => ({ client: sockets[0] as number, room: room(user) }));

    // Act: one measured step.
    const step = await runStep(run, { rate: 40, slots, fanout: pop.fanout, warmMs: 500, measureMs: 1500, sloMs: 2000 });

    // Assert: exact delivery and real measurements; how fast this machine is right now is not asked.
    t.ok(step.latency.count > 0, "latency samples recorded");
    t.equal(step.deliveredRatio, 1, "delivered == expected (every member socket, the sender's own included)");
    t.equal(step.ackedRatio, 1, "every send acked");
    t.equal(step.ackFailed, 0, "no failed acks");
    t.ok(step.sentPerSec > 0, `send rate measured (${step.sentPerSec}/s)`);
    t.ok(step.serverCores > 0, "server CPU read from /proc");
    t.ok(step.serverRssMB > 10, "server RSS read from /proc");
    t.ok(step.latency.p99Ms > 0, `p99 measured (${step.latency.p99Ms} ms)`);
    if (kind === "ours") {
      const keys = createKeys(REDIS_PREFIX);
      const stored = await run.redis.streamLengths(Object.keys(pop.fanout).map((r) => keys.log(r as Conversation, "x")));
      t.equal(stored, step.ackedTotal, "every acked message is in its room stream");
    }

    // A worker dies mid-load: every socket comes back; the project loses no acked message.
    await run.pool.load({ bucketMs: 1000, segments: [{ durationMs: 60_000, rate: 20 }], fanout: pop.fanout, textBytes: 100 }, slots);
    await sleep(500);
    await run.pool.resetConnections();
    const victim = await run.pool.busiestWorker();
    t.ok(victim && run.target.workerPids().includes(victim), "welcome.instance names a worker of the server");
    process.kill(victim as number, "SIGKILL");
    const back = await waitFor(async () => {
      const c = await run.pool.connections();
      return c.disconnects > 0 && c.connected === c.total;
    }, 20_000);
    t.ok(back, "every socket reconnected after the worker was killed");
    if (!back) t.comment(`connections: ${JSON.stringify(await run.pool.connections())}`);
    await sleep(500);
    await run.pool.stopLoad();
    await waitFor(async () => (await run.pool.snapshots()).every((s) => s.unacked === 0), 10_000);
    await drain(run.pool, 3000);
    const reports = await run.pool.results();
    const acked = concatLists(reports.map((r) => r.ackedIds));
    t.ok(Object.values(acked).flat().length > 0, "messages were acked during the kill");
    const verify = await run.pool.verify(acked);
    if (kind === "ours") t.equal(verify.missingPairs, 0, "no acked message missing at any member socket");
    else t.comment(`reference (no persistence) missed ${verify.missingPairs} socket-message pairs`);

    const b2: B2Result = { target: kind, workers: 2, sockets: pop.clients.length, pair: { sustainable: step.offered, steps: [step] } };
    records.push({ scenario: "B2", target: kind, rep: 1, startedAt: new Date().toISOString(), seconds: 1, result: b2 });
  });
}

t.test("bench harness > report > ratios, chart and page come out of the results", async (t) => {
  t.equal(records.length, 2, "both targets produced a record");
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: 1,
    command: "smoke",
    options: { size: "smoke", runs: 1, contextRuns: 1, pin: false, scenarios: ["B2"], targets: ["ours", "ref"] },
    machine: {
      cpu: "?",
      cores: 2,
      memoryGiB: 1,
      kernel: "?",
      node: process.versions.node,
      redis: "?",
      openFilesHard: "?",
      somaxconn: "?",
      portRange: "?",
      loadAverageAtStart: "?",
      commit: "?",
    },
    runs: records,
    verdicts: computeVerdicts(records, ["B2"]),
  };
  const ratio = report.verdicts.find((v) => v.metric.includes("rooms of 2"));
  t.equal(ratio?.value, 1, "same offered rate on both sides gives a 1.0× ratio");
  t.match(renderSvg(report), /^<svg[\s\S]*<\/svg>\n$/, "an SVG chart");
  t.match(renderSection(report, "chart.svg"), /### Targets[\s\S]*rooms of 2/, "the generated docs section");
});
