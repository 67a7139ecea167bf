/**
 * B1, B2 and B6 share one run per target and repetition: one worker, 1,000 sockets (one per
 * user), every socket in the fan-out room, its room of 2 and its room of 10. Connecting 1,000
 * sockets and starting a server three times over would only cost time. Order: B1's fixed steps,
 * B2's searches, then B6, whose overload may leave the server in any state.
 */
import type { TargetKind } from "../lib/target.js";
import { type B1Result, FANOUT_ROOM, measureFanout } from "./b1-fanout.js";
import { type B2Result, connectAll, groupRoom, pairRoom, type SmallRoomsHints, searchSmallRooms, slotsFor } from "./b2-small-rooms.js";
import { type B6Result, runB6Overload } from "./b6-overload.js";
import { type BenchOptions, bySize, type Golden, population, waitQuiet, withRun } from "./harness.js";

export interface OneWorkerPlan {
  b1: boolean;
  b2: boolean;
  b6: boolean;
  hints: SmallRoomsHints;
}

export interface OneWorkerResult {
  b1?: B1Result;
  b2?: B2Result;
  b6?: B6Result;
}

export async function runOneWorker(
  kind: TargetKind,
  golden: Golden | undefined,
  options: BenchOptions,
  plan: OneWorkerPlan,
): Promise<OneWorkerResult> {
  const sockets = bySize(options, { full: 1000, quick: 200, smoke: 20 });
  return withRun({ kind, workers: 1, pin: options.pin, agents: 1 }, golden, options.log, async (run) => {
    const rooms = (u: number): string[] => [...(plan.b1 ? [FANOUT_ROOM] : []), pairRoom(u), ...(plan.b2 ? [groupRoom(u)] : [])];
    const pop = population(await run.accounts(sockets), 1, rooms);
    await connectAll(run, pop, "B1/B2/B6");
    const out: OneWorkerResult = {};
    if (plan.b1) {
      out.b1 = await measureFanout(run, pop, kind, options);
      // B1 ends saturated, with seconds of frames still queued: a search whose first step ran in
      // that tail failed it, walked down and ended at a tenth of its rate. (A smoke run's figures
      // mean nothing, and its other target shares the box.)
      if (options.size !== "smoke") await waitQuiet(options.log, 20_000);
    }
    if (plan.b2 || plan.b6) {
      // B6 needs the saturation point even when B2 itself was not asked for.
      const b2 = await searchSmallRooms(run, pop, kind, options, { group: plan.b2, hints: plan.hints, label: "B2" });
      if (plan.b2) out.b2 = b2;
      if (plan.b6)
        out.b6 = await runB6Overload(run, {
          slots: slotsFor(pop, pairRoom),
          fanout: pop.fanout,
          saturation: b2.pair.sustainable,
          options,
          kind,
        });
    }
    return out;
  });
}
