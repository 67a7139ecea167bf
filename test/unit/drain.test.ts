/**
 * A draining worker sends its clients away no faster than the workers taking them over can follow:
 * it holds while the primary reports a backlog, and closes whatever is left once its budget is spent.
 */
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { closeGradually } from "../../src/realtime/drain.js";

function sockets(count: number): { closed: () => number; list: { close(): void }[] } {
  let closed = 0;
  const list = Array.from({ length: count }, () => {
    let open = true;
    return {
      close() {
        if (open) closed++;
        open = false;
      },
    };
  });
  return { closed: () => closed, list };
}

t.test("with no backlog every socket is closed, a slice at a time", async (t) => {
  const { closed, list } = sockets(200);
  const drain = closeGradually(list, { budgetMs: 30_000, backlog: () => 0 });
  t.ok(closed() > 0, "the first slice goes at once");
  t.ok(closed() < 200, "not all of them at once");
  await drain;
  t.equal(closed(), 200);
});

t.test("a backlog holds the drain until the new workers catch up", async (t) => {
  const { closed, list } = sockets(100);
  let backlog = 500;
  const drain = closeGradually(list, { budgetMs: 30_000, backlog: () => backlog });
  await sleep(300);
  t.equal(closed(), 0, "nothing is closed while the primary holds more than the limit");
  backlog = 0;
  await drain;
  t.equal(closed(), 100, "all closed once the backlog is gone");
});

t.test("the budget bounds the drain, whatever the backlog", async (t) => {
  const { closed, list } = sockets(100);
  const started = Date.now();
  await closeGradually(list, { budgetMs: 200, backlog: () => 1_000 });
  t.equal(closed(), 100, "the rest closed at the deadline");
  t.ok(Date.now() - started >= 200, "not before it");
});
