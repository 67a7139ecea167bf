/**
 * B4 and B5 run on two workers with 1,000 users × 10 sockets, each on a server of its own. B4
 * measures the 10,000 idle sockets. For B5, one socket per user is closed and the remaining 9,000
 * are stormed. B5 does not follow B4 on the same server: B4's full GC through the inspector
 * (remote-gc.ts) changes how the server handles the storm that follows (docs/decisions.md).
 */
import type { TargetKind } from "../lib/target.js";
import { type B4Result, idleBaseline, measureIdle } from "./b4-idle.js";
import { type B5Result, measureStorm, stormRoom } from "./b5-storm.js";
import { type BenchOptions, between, bySize, CONNECT_DEADLINE_MS, type Golden, population, withRun } from "./harness.js";

export interface TwoWorkersResult {
  b4?: B4Result;
  b5?: B5Result;
}

export async function runTwoWorkers(
  kind: TargetKind,
  golden: Golden | undefined,
  options: BenchOptions,
  plan: { b4: boolean; b5: boolean },
): Promise<TwoWorkersResult> {
  const out: TwoWorkersResult = {};
  if (plan.b4) Object.assign(out, await onItsOwnServer(kind, golden, options, "B4"));
  if (plan.b5) Object.assign(out, await onItsOwnServer(kind, golden, options, "B5"));
  return out;
}

async function onItsOwnServer(
  kind: TargetKind,
  golden: Golden | undefined,
  options: BenchOptions,
  scenario: "B4" | "B5",
): Promise<TwoWorkersResult> {
  const users = bySize(options, { full: 1000, quick: 100, smoke: 10 });
  const perUser = 10;
  const senders = bySize(options, { full: 100, quick: 20, smoke: 4 });
  return withRun({ kind, workers: 2, pin: false, agents: 2 }, golden, options.log, async (run) => {
    const pop = population(await run.accounts(users), perUser, (u) => (u < senders ? [stormRoom(u)] : []));
    const base = scenario === "B4" ? await idleBaseline(run) : undefined;
    const beforeConnect = await run.sample();
    // B5's client behaviour from the start (ids tracked, resend, reconnect): harmless while idle.
    const connected = await run.connect(pop, {
      trackIds: true,
      resend: true,
      rejoin: kind === "ref",
      reconnect: true,
      deadlineMs: CONNECT_DEADLINE_MS,
    });
    const connecting = between(beforeConnect, await run.sample());
    const total = pop.clients.length;
    if (connected.connected < total) {
      throw new Error(
        `${scenario}: only ${connected.connected}/${total} sockets connected in ${connected.connectMs} ms ${JSON.stringify(connected.failures)}`,
      );
    }
    if (base) return { b4: await measureIdle(run, base, connected, connecting, kind, options) };
    // The storm is 9k sockets: close each user's last socket (never a sender).
    await run.pool.retire(pop.socketsOf.map((sockets) => sockets[perUser - 1] as number));
    const fanout = Object.fromEntries(Object.entries(pop.fanout).map(([room, n]) => [room, (n / perUser) * (perUser - 1)]));
    return { b5: await measureStorm(run, pop, fanout, senders, kind, options) };
  });
}
