import t from "tap";
import { formatSearchCursor, matchesTerms, parseSearchCursor, wordsOf } from "../../src/domain/search.js";

t.test("wordsOf > punctuation, case and accents > lower-case words only", async (t) => {
  t.same(wordsOf("Hello, WORLD! Café-au_lait 42"), ["hello", "world", "café", "au_lait", "42"]);
  t.same(wordsOf(" ?! "), []);
});

t.test("matchesTerms > every term must start a word", async (t) => {
  t.ok(matchesTerms("The Deployment is done", ["deploy"]));
  t.ok(matchesTerms("The Deployment is done", ["done", "the"]));
  t.notOk(matchesTerms("The Deployment is done", ["ploy"]));
  t.notOk(matchesTerms("The Deployment is done", ["deploy", "failed"]));
});

t.test("search cursor > round trip; anything else refused", async (t) => {
  const cursor = { id: "1712000000000-3", conversation: "@Bob.x" };
  t.same(parseSearchCursor(formatSearchCursor(cursor)), cursor);
  t.same(parseSearchCursor("1-0 #room"), { id: "1-0", conversation: "#room" });
  for (const bad of ["", "1-0", "1-0 room", "x-0 #room", "1-0 #room extra", `1-0 #${"a".repeat(40)}`]) {
    t.equal(parseSearchCursor(bad), undefined, bad);
  }
});
