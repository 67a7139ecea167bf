/**
 * B2 small rooms: 1,000 sockets (one per user), each a member of a room of 2 users and of a room
 * of 10; every socket sends to its room at a steady rate, every message persisted (project) and
 * acked. The figure is the highest sustainable rate with p99 ≤ 50 ms. One worker (one-worker.ts
 * runs it together with B1 and B6 on the same connections).
 */
import type { Conversation } from "../../src/realtime/events.js";
import { createKeys } from "../../src/store/keys.js";
import type { TargetKind } from "../lib/target.js";
import type { Slot } from "../loadgen/protocol.js";
import {
  type BenchOptions,
  bySize,
  type Golden,
  type Population,
  population,
  REDIS_PREFIX,
  type Run,
  THROUGHPUT_CONNECT,
  withRun,
} from "./harness.js";
import { describeStep, findSustainable, runStep, type SearchResult, type StepPlan, type StepResult } from "./steps.js";

export interface SmallRoomsHints {
  pair?: number;
  group?: number;
}

export interface B2Result {
  target: TargetKind;
  workers: number;
  sockets: number;
  /** Rooms of 2 users. */
  pair: SearchResult;
  /** Rooms of 10 users (absent when only the saturation point was needed). */
  group?: SearchResult;
  /** Project only: messages found in the room streams vs sends acked, over the whole run. */
  persistence?: { acked: number; stored: number };
}

export const pairRoom = (user: number): string => `#b2-pair-${user >> 1}`;
export const groupRoom = (user: number): string => `#b2-group-${Math.floor(user / 10)}`;

export interface SearchPlan {
  group: boolean;
  hints: SmallRoomsHints;
  label: string;
}

/** B2's searches on an open run whose sockets (one per user) are in their pairRoom and groupRoom. */
export async function searchSmallRooms(
  run: Run,
  pop: Population,
  kind: TargetKind,
  options: BenchOptions,
  plan: SearchPlan,
): Promise<B2Result> {
  const search = (slots: Slot[], hint: number | undefined, label: string) =>
    findSustainable(run, {
      ...stepShape(pop, slots, options),
      start: bySize(options, { full: 2000, quick: 500, smoke: 100 }),
      hint,
      // A smoke run takes two steps and stops: it checks the search, not the server.
      max: bySize(options, { full: 200_000, quick: 200_000, smoke: 300 }),
      maxSteps: bySize(options, { full: undefined, quick: undefined, smoke: 2 }),
      log: options.log,
      label: `${plan.label} ${kind} ${label}`,
    });
  const pair = await search(slotsFor(pop, pairRoom), plan.hints.pair, "rooms of 2");
  // A room of 10 delivers five times what a room of 2 does: start that search well below.
  const groupHint = plan.hints.group ?? (pair.sustainable > 0 ? pair.sustainable * 0.4 : undefined);
  const group = plan.group ? await search(slotsFor(pop, groupRoom), groupHint, "rooms of 10") : undefined;
  const result: B2Result = { target: kind, workers: run.spec.workers, sockets: pop.clients.length, pair, group };
  if (kind === "ours") result.persistence = await persistence(run, pop);
  return result;
}

/** Every step of B2's searches: 1 s of warm-up, 2.5 s measured (full size), p99 ≤ 50 ms. */
function stepShape(pop: Population, slots: Slot[], options: BenchOptions): Omit<StepPlan, "rate"> {
  return {
    slots,
    fanout: pop.fanout,
    warmMs: bySize(options, { full: 1000, quick: 1000, smoke: 500 }),
    measureMs: bySize(options, { full: 2500, quick: 2000, smoke: 500 }),
    sloMs: 50,
  };
}

/**
 * B3's building block: a fresh run with `workers` workers, the rooms-of-2 search and, when
 * `alsoAt` is given, one more step at that rate (the other shape's sustainable rate).
 */
export async function runSmallRooms(
  kind: TargetKind,
  golden: Golden | undefined,
  options: BenchOptions,
  shape: { workers: number; agents: number; hint?: number; alsoAt?: number; label: string },
): Promise<{ search: SearchResult; alsoAt?: StepResult }> {
  const sockets = bySize(options, { full: 1000, quick: 200, smoke: 20 });
  return withRun({ kind, workers: shape.workers, pin: false, agents: shape.agents }, golden, options.log, async (run) => {
    const pop = population(await run.accounts(sockets), 1, (u) => [pairRoom(u)]);
    await connectAll(run, pop, "B3");
    const { pair } = await searchSmallRooms(run, pop, kind, options, { group: false, hints: { pair: shape.hint }, label: shape.label });
    if (!shape.alsoAt) return { search: pair };
    const alsoAt = await runStep(run, { ...stepShape(pop, slotsFor(pop, pairRoom), options), rate: shape.alsoAt, drainMs: 8000 });
    options.log(`  ${shape.label} ${kind} rooms of 2 ${shape.alsoAt}/s (the other shape's sustainable rate): ${describeStep(alsoAt)}`);
    return { search: pair, alsoAt };
  });
}

/** Connects a population for a throughput scenario: every socket must be in, every join acked. */
export async function connectAll(run: Run, pop: Population, label: string): Promise<void> {
  const connected = await run.connect(pop, THROUGHPUT_CONNECT);
  if (connected.connected !== pop.clients.length || Object.keys(connected.joinFailures).length > 0) {
    throw new Error(
      `${label}: ${connected.connected}/${pop.clients.length} connected, join failures ${JSON.stringify(connected.joinFailures)} ${JSON.stringify(connected.failures)}`,
    );
  }
}

export function slotsFor(pop: Population, roomOf: (user: number) => string): Slot[] {
  return pop.socketsOf.map((sockets, user) => ({ client: sockets[0] as number, room: roomOf(user) }));
}

/**
 * Every acked message must be in its room's stream (the project's rule: persist, then ack). Acks are
 * counted per room by the agents, so a late ack of an earlier scenario's step (B1 saturates) does
 * not count here and a late ack of a B2 step does; they are read before the streams, so every
 * message counted as acked was stored before the streams were read.
 */
async function persistence(run: Run, pop: Population): Promise<{ acked: number; stored: number }> {
  const keys = createKeys(REDIS_PREFIX);
  const rooms = Object.keys(pop.fanout).filter((room) => room.startsWith("#b2-"));
  const acked = await run.pool.ackedIn("#b2-");
  const stored = await run.redis.streamLengths(rooms.map((room) => keys.log(room as Conversation, "bench")));
  return { acked, stored };
}
