/**
 * B4 and B5 share one run per target and repetition: two workers, 1,000 users × 10 sockets.
 * B4 measures the 10,000 idle sockets; then one socket per user is closed and B5 storms the
 * remaining 9,000. Connecting 10k sockets is the slowest part of both; doing it once saves
 * minutes, and B4's sockets are idle either way (B5's senders only start afterwards).
 */
import type { TargetKind } from "../lib/target.js";
import { type B4Result, idleBaseline, measureIdle } from "./b4-idle.js";
import { type B5Result, measureStorm, stormRoom } from "./b5-storm.js";
import { type BenchOptions, between, CONNECT_DEADLINE_MS, type Golden, population, withRun } from "./harness.js";

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
  const users = options.quick ? 100 : 1000;
  const perUser = 10;
  const senders = options.quick ? 20 : 100;
  return withRun({ kind, workers: 2, pin: false, agents: 2 }, golden, options.log, async (run) => {
    const pop = population(await run.accounts(users), perUser, (u) => (u < senders ? [stormRoom(u)] : []));
    const base = plan.b4 ? await idleBaseline(run) : undefined;
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
        `B4/B5: only ${connected.connected}/${total} sockets connected in ${connected.connectMs} ms ${JSON.stringify(connected.failures)}`,
      );
    }
    const out: TwoWorkersResult = {};
    if (base) out.b4 = await measureIdle(run, base, connected, connecting, kind, options);
    if (plan.b5) {
      // The storm is 9k sockets: close each user's last socket (never a sender).
      await run.pool.retire(pop.socketsOf.map((sockets) => sockets[perUser - 1] as number));
      const fanout = Object.fromEntries(Object.entries(pop.fanout).map(([room, n]) => [room, (n / perUser) * (perUser - 1)]));
      out.b5 = await measureStorm(run, pop, fanout, senders, kind, options);
    }
    return out;
  });
}
