import t from "tap";
import { parseClientId, parseLimit, parseText, utf8Length } from "../../src/domain/messages.js";
import { parseConversation, parseNewPassword, parseRoomName, parseUsername, usernameKey } from "../../src/domain/names.js";
import { compareIds, isStreamId, newer, newestId, timestampOf } from "../../src/domain/stream-ids.js";
import { AppError } from "../../src/lib/errors.js";
import { routesOf } from "../../src/realtime/delivery.js";

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return undefined;
};

t.test("parseUsername > 3-32 of letters, digits, _ . - > accepted, anything else E_INVALID", async (t) => {
  for (const ok of ["abc", "A_b.c-9", "x".repeat(32)]) t.equal(parseUsername(ok), ok);
  for (const bad of ["ab", "x".repeat(33), "with space", "émile", "a/b", "", 5, null, undefined, ["abc"]]) {
    t.equal(
      codeOf(() => parseUsername(bad)),
      "E_INVALID",
      JSON.stringify(bad),
    );
  }
  t.equal(usernameKey("Alice"), usernameKey("aLICE"), "unique case-insensitively");
});

t.test("parseNewPassword > 12-128 characters, not common, not the username > accepted, else E_INVALID", async (t) => {
  const common = new Set(["password", "qwertyuiopas"]);
  const isCommon = (candidate: string) => common.has(candidate);
  t.equal(parseNewPassword("correct horse battery", "alice", isCommon), "correct horse battery");
  for (const bad of ["short pass1", "x".repeat(129), "QwertyUiopAs", "Password1234!", "aaaabbbbaaaabbbb", "my alice password"]) {
    t.equal(
      codeOf(() => parseNewPassword(bad, "Alice", isCommon)),
      "E_INVALID",
      bad,
    );
  }
  t.equal(
    codeOf(() => parseNewPassword(42, "alice", isCommon)),
    "E_INVALID",
  );
});

t.test("parseRoomName and parseConversation > canonical forms", async (t) => {
  t.equal(parseRoomName("#Lobby_1"), "#lobby_1");
  t.equal(
    codeOf(() => parseRoomName("lobby")),
    "E_INVALID",
  );
  t.equal(
    codeOf(() => parseRoomName("#")),
    "E_INVALID",
  );
  t.equal(parseConversation("@Bob"), "@bob");
  t.equal(
    codeOf(() => parseConversation("bob")),
    "E_INVALID",
  );
});

t.test("parseText > trims, counts code points, caps bytes", async (t) => {
  const limits = { messageMaxChars: 5, messageMaxBytes: 16 };
  t.equal(parseText("  hi  ", limits), "hi");
  t.equal(parseText("😀😀😀😀😀", { messageMaxChars: 5, messageMaxBytes: 64 }), "😀😀😀😀😀");
  t.equal(
    codeOf(() => parseText("123456", limits)),
    "E_TOO_LONG",
  );
  t.equal(
    codeOf(() => parseText("é".repeat(9), { messageMaxChars: 100, messageMaxBytes: 16 })),
    "E_TOO_LONG",
  );
  t.equal(
    codeOf(() => parseText(" \n\t ", limits)),
    "E_INVALID",
  );
  t.equal(
    codeOf(() => parseText({}, limits)),
    "E_INVALID",
  );
});

t.test("parseClientId and parseLimit > validated", async (t) => {
  t.equal(parseClientId("3f1c2d7e-aaaa-bbbb-cccc-1234567890ab"), "3f1c2d7e-aaaa-bbbb-cccc-1234567890ab");
  t.equal(
    codeOf(() => parseClientId("short")),
    "E_INVALID",
  );
  t.equal(
    codeOf(() => parseClientId("has space here")),
    "E_INVALID",
  );
  t.equal(parseLimit(undefined, 50, 200), 50);
  t.equal(parseLimit(1000, 50, 200), 200);
  t.equal(
    codeOf(() => parseLimit(1.5, 50, 200)),
    "E_INVALID",
  );
});

t.test("stream ids > compared as integer pairs, not strings", async (t) => {
  t.ok(compareIds("9-0", "10-0") < 0);
  t.ok(compareIds("10-2", "10-10") < 0);
  t.equal(compareIds("5-5", "5-5"), 0);
  t.equal(newestId(["9-0", "10-0", "9-9"]), "10-0");
  t.equal(newestId([]), undefined);
  t.equal(newer(undefined, "9-0"), "9-0");
  t.equal(newer("10-0", undefined), "10-0");
  t.equal(newer("9-9", "10-0"), "10-0");
  t.equal(timestampOf("1700000000000-3"), 1_700_000_000_000);
  t.ok(isStreamId("1-0"));
  t.notOk(isStreamId("1"));
  t.notOk(isStreamId("a-b"));
  t.notOk(isStreamId(5));
});

t.test("routesOf > DMs reach both users, named by the peer; a room reaches its channel", async (t) => {
  const base = { id: "1-0", from: "Alice", text: "hi", ts: 1, clientId: "c".repeat(10) };
  t.same(routesOf({ ...base, to: "#lobby" }), [{ channel: "#lobby", conversation: "#lobby" }]);
  t.same(routesOf({ ...base, to: "@Bob" }), [
    { channel: "@bob", conversation: "@Alice" },
    { channel: "@alice", conversation: "@Bob" },
  ]);
  t.same(routesOf({ ...base, to: "@alice" }), [{ channel: "@alice", conversation: "@alice" }], "a note to self goes once");
});

t.test("utf8Length > any text > counts as Node's Buffer.byteLength does", async (t) => {
  const samples = ["", "abc", "é", "€uro", "😀 x", "a\ud83d", "\ud83db", "\ude00a", "\ud83d\ud83d\ude00", "中文字"];
  for (const text of samples) t.equal(utf8Length(text), Buffer.byteLength(text, "utf8"), JSON.stringify(text));
});
