import { setTimeout as sleep } from "node:timers/promises";
import { compareIds } from "../../src/domain/stream-ids.js";
import type { ReliableClient } from "./reliable-client.js";

export interface DeliveryFigures {
  messagesAcked: number;
  /** Acked messages times the members that must get each. */
  deliveriesExpected: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  /** Stream ids acked for more than one send (must be 0: one id per stored message). */
  reusedIds: number;
}

/**
 * Compares what every client received with what every client had acked: each acked message must
 * reach every member of its conversation exactly once, in id order (a DM: both ends). `members`
 * maps each room to its users, fixed before sending started. The first few faults of each kind
 * are described through `comment`, with the client's trace, to diagnose a failure.
 */
export function checkDeliveries(
  clients: readonly ReliableClient[],
  members: ReadonlyMap<string, ReadonlySet<string>>,
  comment: (line: string) => void,
): DeliveryFigures {
  const acked = clients.flatMap((c) => c.acked);
  const figures: DeliveryFigures = {
    messagesAcked: acked.length,
    deliveriesExpected: 0,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
    reusedIds: 0,
  };
  for (const client of clients) {
    const expected = new Map<string, Set<string>>();
    const expect = (conversation: string, id: string) => {
      const set = expected.get(conversation) ?? new Set<string>();
      set.add(id);
      expected.set(conversation, set);
    };
    for (const message of acked) {
      if (message.to.startsWith("#")) {
        if (members.get(message.to)?.has(client.user)) expect(message.to, message.id);
      } else if (message.from === client.user) expect(message.to, message.id);
      else if (message.to === `@${client.user}`) expect(`@${message.from}`, message.id);
    }
    for (const [conversation, ids] of expected) {
      const arrived = client.arrivals.get(conversation) ?? [];
      const seen = new Set<string>();
      let previous: string | undefined;
      for (const id of arrived) {
        if (seen.has(id) && ++figures.duplicates <= 3) {
          const hits = client.trace.filter((e) => e.id === id && e.conversation === conversation);
          comment(`dup ${client.user} ${conversation} ${id} ${JSON.stringify(hits)} welcomes=${JSON.stringify(client.welcomes)}`);
        }
        seen.add(id);
        if (previous !== undefined && compareIds(id, previous) <= 0 && ++figures.outOfOrder <= 3) {
          const at = client.trace.findIndex((e) => e.id === id && e.conversation === conversation);
          comment(`order ${conversation} ${previous} then ${id}: ${JSON.stringify(client.trace.slice(Math.max(0, at - 3), at + 2))}`);
        }
        previous = id;
      }
      for (const id of ids) {
        if (seen.has(id) || ++figures.lost > 3) continue;
        const around = arrived.filter((a) => Math.abs(Number(a.split("-")[0]) - Number(id.split("-")[0])) < 3000);
        comment(
          `lost ${client.user} ${conversation} ${id}; arrived near it: ${JSON.stringify(around)} welcomes=${JSON.stringify(client.welcomes)}`,
        );
      }
      figures.deliveriesExpected += ids.size;
    }
  }
  // A DM stream is shared by a pair, so the key is the id with both ends.
  const keyOf = (m: { id: string; to: string; from: string }) =>
    m.to.startsWith("#") ? `${m.id}${m.to}` : `${m.id}${[m.to, `@${m.from}`].sort()}`;
  const storedIds = new Map<string, number>();
  for (const m of acked) storedIds.set(keyOf(m), (storedIds.get(keyOf(m)) ?? 0) + 1);
  const reused = [...storedIds].filter(([, n]) => n > 1);
  if (reused.length > 0)
    comment(`reused ids: ${JSON.stringify(reused.slice(0, 3))} ${JSON.stringify(acked.filter((m) => keyOf(m) === reused[0]?.[0]))}`);
  figures.reusedIds = reused.length;
  return figures;
}

/**
 * Keeps resending until every client's sends are acked or `timeoutMs` passed, then waits
 * `settleMs` for the last deliveries. Returns how many sends are still unacked.
 */
export async function drainSends(clients: readonly ReliableClient[], timeoutMs = 60_000, settleMs = 2000): Promise<number> {
  const started = Date.now();
  const unacked = () => clients.reduce((n, c) => n + c.unacked, 0);
  while (unacked() > 0 && Date.now() - started < timeoutMs) {
    for (const client of clients) client.flush();
    await sleep(250);
  }
  await sleep(settleMs);
  return unacked();
}
