import t from "tap";
import { streamOf } from "../../src/domain/names.js";
import {
  encodeLiveEvent,
  encodeNotice,
  encodeTyping,
  fromEntry,
  parseLive,
  parseLiveEvent,
  parseNotice,
  parseTyping,
} from "../../src/store/live-wire.js";

t.test("streamOf > a DM pair > one stream for both sides, names in lower case; a room is itself", async (t) => {
  t.equal(streamOf("@Bob", "alice"), "@alice:@bob");
  t.equal(streamOf("@alice", "Bob"), "@alice:@bob");
  t.equal(streamOf("#lobby", "alice"), "#lobby");
});

t.test("parseLive > a payload > fields in order, the text keeps its newlines; malformed ones are refused", async (t) => {
  const live = parseLive("#lobby", "1-0\n2-0\nAlice\n#lobby\ncid12345\n\n\nline one\nline two");
  t.same(live, {
    prev: "1-0",
    message: { stream: "#lobby", id: "2-0", to: "#lobby", from: "Alice", text: "line one\nline two", ts: 2, clientId: "cid12345" },
  });
  t.equal(parseLive("#lobby", "1-0\n2-0\nAlice"), undefined, "too few fields");
  t.equal(parseLive("#lobby", "x\n2-0\nAlice\n#lobby\ncid\n\n\ntext"), undefined, "a predecessor that is not an id");
  t.equal(parseLive("#lobby", "1-0\n2-0\nAlice\nlobby\ncid\n\n\ntext"), undefined, "not a conversation");
  t.equal(parseLive("#lobby", "1-0\n2-0\nAlice\n#lobby\ncid\npin\n1-0\ntext"), undefined, "an unknown kind");
  t.equal(parseLive("#lobby", "1-0\n2-0\nAlice\n#lobby\ncid\nedit\nx\ntext"), undefined, "an edit of no message id");
});

t.test("parseLive > an edit or a deletion > carries the kind and the id of the message it changes", async (t) => {
  t.match(parseLive("#lobby", "2-0\n3-0\nAlice\n#lobby\ncid12345\nedit\n1-0\nnew\ntext"), {
    prev: "2-0",
    message: { id: "3-0", text: "new\ntext", update: { kind: "edit", messageId: "1-0" } },
  });
  t.match(parseLive("#lobby", "2-0\n3-0\nAlice\n#lobby\ncid12345\ndelete\n1-0\n"), {
    message: { id: "3-0", text: "", update: { kind: "delete", messageId: "1-0" } },
  });
  t.match(fromEntry("#lobby", { id: "3-0", message: { from: "Alice", text: "", cid: "c", kind: "delete", of: "1-0" } }), {
    update: { kind: "delete", messageId: "1-0" },
  });
  t.notOk("update" in fromEntry("#lobby", { id: "3-0", message: { from: "Alice", text: "hi", cid: "c" } }), "a message has none");
});

t.test("fromEntry > a DM entry > addressed as stored, or to the other user when an older entry has no `to`", async (t) => {
  t.match(fromEntry("@alice:@bob", { id: "5-1", message: { from: "Alice", text: "hi", cid: "c", to: "@Bob" } }), {
    to: "@Bob",
    from: "Alice",
  });
  t.match(fromEntry("@alice:@bob", { id: "5-1", message: { from: "Alice", text: "hi", cid: "c" } }), { to: "@bob", ts: 5 });
  t.match(fromEntry("#lobby", { id: "5-1", message: { from: "Alice", text: "hi", cid: "c" } }), { to: "#lobby", clientId: "c" });
});

t.test("parseNotice > what encodeNotice wrote > the same notice; anything else is refused", async (t) => {
  const notice = { stream: "@alice:@bob" as const, id: "9-0", prev: "0-0" };
  t.same(parseNotice(encodeNotice(notice)), notice);
  t.equal(parseNotice("#lobby\n9-0\n0-0"), undefined, "rooms have no notices");
  t.equal(parseNotice("@alice:@bob\n9-0"), undefined);
});

t.test("parseTyping > a typing signal > its typist; messages, notices and bad names are not signals", async (t) => {
  t.equal(parseTyping(encodeTyping("Alice")), "Alice");
  t.equal(parseTyping("1-0\n2-0\nAlice\n#lobby\ncid12345\ntyping"), undefined, "a message");
  t.equal(parseTyping(encodeNotice({ stream: "@alice:@bob", id: "2-0", prev: "1-0" })), undefined, "a notice");
  t.equal(parseTyping("typing\nno way"), undefined, "not a username");
  t.equal(parseLive("#lobby", encodeTyping("Alice")), undefined, "an earlier version drops it as a message");
  t.equal(parseNotice(encodeTyping("Alice")), undefined, "an earlier version drops it as a notice");
});

t.test("parseLiveEvent > a user event > name, body and the socket to skip; anything else is not one", async (t) => {
  const event = { event: "read:update", data: { conversation: "#lobby", mentions: 0 }, except: "sid1" };
  t.same(parseLiveEvent(encodeLiveEvent(event)), event);
  t.same(parseLiveEvent(encodeLiveEvent({ event: "read:update", data: 1 })), { event: "read:update", data: 1 });
  t.equal(parseLiveEvent("user-event\n{not json"), undefined, "malformed JSON");
  t.equal(parseLiveEvent('user-event\n{"event":3}'), undefined, "no event name");
  t.equal(parseLiveEvent(encodeTyping("Alice")), undefined, "a typing signal");
  t.equal(parseNotice(encodeLiveEvent(event)), undefined, "an earlier version drops it as a notice");
  t.equal(parseTyping(encodeLiveEvent(event)), undefined);
});
