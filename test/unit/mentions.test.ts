import t from "tap";
import { MENTIONS_MAX, mentionedNames, mentions } from "../../src/domain/mentions.js";

t.test("mentionedNames > names after @ > lower-case, each once, punctuation and addresses left out", async (t) => {
  t.same(mentionedNames("@Bob hi, @carol_1 and @BOB again"), ["bob", "carol_1"]);
  t.same(mentionedNames("thanks @dave.k."), ["dave.k"]);
  t.same(mentionedNames("(@eve) @ann-"), ["eve", "ann"]);
  t.same(mentionedNames("mail x@bob.com or @@bob or @ab"), []);
  t.same(mentionedNames(`@${"a".repeat(33)}`), []);
  const many = Array.from({ length: 30 }, (_, i) => `@user${i}`).join(" ");
  t.equal(mentionedNames(many).length, MENTIONS_MAX);
});

t.test("mentions > the user named in any case > true; a longer name > false", async (t) => {
  t.ok(mentions("hey @Alice!", "alice"));
  t.notOk(mentions("hey @alice2", "alice"));
  t.notOk(mentions("hey alice", "alice"));
});
