import t from "tap";
import { parseMemberUpdate, parseSignal } from "../../src/realtime/signals.js";

t.test("parseSignal > each kind > read as sent; another version's or a malformed one is ignored", async (t) => {
  const read = { event: "read:update", data: { conversation: "#lobby", lastId: "1-0", mentions: 0 }, except: "sid" };
  t.same(parseSignal(read), read);
  const joined = { event: "room:joined", data: { room: "#lobby", private: true }, except: "sid" };
  t.same(parseSignal(joined), joined);
  t.same(parseSignal({ event: "room:left", data: { room: "#lobby" }, except: "sid" }), {
    event: "room:left",
    data: { room: "#lobby" },
    except: "sid",
  });
  t.same(parseSignal({ event: "session:ended", data: { session: "abc" } }), { event: "session:ended", data: { session: "abc" } });

  t.equal(parseSignal({ event: "read:update", data: { conversation: "lobby", mentions: 0 } }), undefined, "not a conversation");
  t.equal(parseSignal({ event: "room:joined", data: { room: "#lobby" }, except: "sid" }), undefined, "no private flag");
  t.equal(parseSignal({ event: "room:left", data: { room: "lobby" }, except: "sid" }), undefined, "not a room");
  t.equal(parseSignal({ event: "room:left", data: { room: "#lobby" } }), undefined, "no socket to leave out");
  t.equal(parseSignal({ event: "session:ended", data: { session: 1 } }), undefined, "not a session id");
  t.equal(parseSignal({ event: "room:renamed", data: { room: "#lobby" }, except: "sid" }), undefined, "an unknown event");
  t.equal(parseSignal({ event: "session:ended", data: null }), undefined, "no data");
});

t.test("parseMemberUpdate > a room's member change > read for that room only; malformed ones are ignored", async (t) => {
  const update = { room: "#lobby", user: "Alice", change: "left", owner: "Bob" };
  t.same(parseMemberUpdate("#lobby", { event: "room:member", data: update }), update);
  t.same(parseMemberUpdate("#lobby", { event: "room:member", data: { room: "#lobby", user: "Alice", change: "joined" } }), {
    room: "#lobby",
    user: "Alice",
    change: "joined",
  });
  t.equal(parseMemberUpdate("#other", { event: "room:member", data: update }), undefined, "another room's");
  t.equal(parseMemberUpdate("#lobby", { event: "room:member", data: { ...update, change: "banned" } }), undefined, "an unknown change");
  t.equal(parseMemberUpdate("#lobby", { event: "room:member", data: { ...update, owner: 3 } }), undefined, "an owner that is no name");
  t.equal(parseMemberUpdate("#lobby", { event: "read:update", data: update }), undefined, "another event");
});
