import t from "tap";
import { parseSignal } from "../../src/realtime/user-signals.js";

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
