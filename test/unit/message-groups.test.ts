import t from "tap";
import { placement } from "../../src/client/message-groups.js";

const MINUTE = 60_000;
// Noon local time, so a few minutes either way stay on the same day.
const noon = new Date(2026, 5, 15, 12, 0, 0).getTime();
const item = (from: string, ts: number, failed = false) => ({ from, ts, failed });

t.test("placement > the first message of a list > starts a group and carries its day", async (t) => {
  const { grouped, day } = placement(undefined, item("alice", noon));
  t.equal(grouped, false);
  t.ok(day && day.length > 0, `day label: ${day}`);
});

t.test("placement > same author within five minutes > grouped, no day label", async (t) => {
  t.strictSame(placement(item("alice", noon), item("Alice", noon + 5 * MINUTE)), { grouped: true, day: undefined });
  // A pending message carries the browser's clock, which may be a little behind the server's.
  t.strictSame(placement(item("alice", noon), item("alice", noon - 2_000)), { grouped: true, day: undefined });
});

t.test("placement > another author, a longer pause or a failed send > a new header", async (t) => {
  t.equal(placement(item("alice", noon), item("bob", noon + MINUTE)).grouped, false, "another author");
  t.equal(placement(item("alice", noon), item("alice", noon + 5 * MINUTE + 1)).grouped, false, "over five minutes");
  t.equal(placement(item("alice", noon), item("alice", noon + MINUTE, true)).grouped, false, "a failed send");
  t.equal(placement(item("alice", noon, true), item("alice", noon + MINUTE)).grouped, false, "after a failed send");
});

t.test("placement > across midnight > a new header and the new day's label", async (t) => {
  const beforeMidnight = new Date(2026, 5, 15, 23, 59, 0).getTime();
  const after = placement(item("alice", beforeMidnight), item("alice", beforeMidnight + 2 * MINUTE));
  t.equal(after.grouped, false);
  t.ok(after.day, "the next day is labelled");
});
