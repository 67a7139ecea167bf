import t from "tap";
import { applyChange, type Change, changeIds } from "../../src/client/changes.js";
import { applyState } from "../../src/domain/edits.js";
import type { Message } from "../../src/domain/messages.js";
import { decodeState, eventsOf, subjectsOf } from "../../src/store/edits.js";

const message = (id: string, text = `text ${id}`): Message => ({
  id,
  conversation: "#lobby",
  from: "Alice",
  text,
  ts: 1,
  clientId: `c-${id}`,
});
const entry = (id: string, fields: Record<string, string>) => ({ id, message: { from: "Alice", cid: `c-${id}`, text: "", ...fields } });

t.test("applyState > edited, deleted or untouched > the latest text, a tombstone without text, or the same message", async (t) => {
  t.same(applyState(message("1-0"), { kind: "edited", text: "new" }), { ...message("1-0"), text: "new", edited: true });
  t.same(applyState(message("1-0"), { kind: "deleted" }), { ...message("1-0"), text: "", deleted: true });
  t.equal(applyState(message("1-0"), undefined).text, "text 1-0");
});

t.test("decodeState > overlay values > 'd' deleted, 'e' and the text edited, anything else nothing", async (t) => {
  t.same(decodeState("d"), { kind: "deleted" });
  t.same(decodeState("eline\none"), { kind: "edited", text: "line\none" });
  t.same(decodeState("e"), { kind: "edited", text: "" });
  t.equal(decodeState(null), undefined);
  t.equal(decodeState("x"), undefined);
});

t.test("eventsOf > a replay with messages, edits and deletions > in order, current state, no deleted text", async (t) => {
  const entries = [
    entry("1-0", { text: "kept" }),
    entry("2-0", { text: "secret" }),
    entry("3-0", { kind: "edit", of: "1-0", text: "kept, edited" }),
    entry("4-0", { kind: "edit", of: "2-0", text: "secret, edited" }),
    entry("5-0", { kind: "delete", of: "2-0" }),
    entry("6-0", { kind: "pin", of: "1-0" }),
  ];
  t.same(subjectsOf(entries), ["1-0", "2-0", "1-0", "2-0", "2-0", "1-0"]);
  const states = new Map([
    ["1-0", { kind: "edited" as const, text: "kept, edited twice" }],
    ["2-0", { kind: "deleted" as const }],
  ]);
  const events = eventsOf(entries, "#lobby", states);
  t.same(
    events.map((e) => [e.event, e.payload.id]),
    [
      ["message:new", "1-0"],
      ["message:new", "2-0"],
      ["message:edited", "3-0"],
      ["message:deleted", "5-0"],
    ],
    "the edit of a deleted message and an unknown kind are left out",
  );
  t.match(events[0]?.payload, { text: "kept, edited twice", edited: true });
  t.match(events[1]?.payload, { text: "", deleted: true });
  t.match(events[2]?.payload, { messageId: "1-0", text: "kept, edited twice" });
  t.notOk(JSON.stringify(events).includes("secret"));
});

t.test("applyChange > edits and deletions of a held message > latest text; a deletion is final", async (t) => {
  const edit = (id: string, text: string): Change => ({
    kind: "edit",
    edit: { id, conversation: "#lobby", messageId: "1-0", from: "Alice", text, ts: 2, clientId: `e-${id}` },
  });
  const deletion: Change = {
    kind: "delete",
    deletion: { id: "4-0", conversation: "#lobby", messageId: "1-0", from: "Alice", ts: 4, clientId: "d" },
  };
  t.same(changeIds(deletion), { messageId: "1-0", id: "4-0" });
  const edited = applyChange(message("1-0"), edit("2-0", "new"));
  t.same(edited, { ...message("1-0"), text: "new", edited: true });
  const deleted = applyChange(edited, deletion);
  t.same(deleted, { ...message("1-0"), text: "", deleted: true }, "no edited flag on a tombstone");
  t.equal(applyChange(deleted, edit("5-0", "back")), deleted, "a late edit never brings text back");
});
