/**
 * Password hashes: a hash verifies its password only, and the dummy hash that unknown names are
 * checked against costs what a real check costs (the same scrypt parameters as a new hash).
 */
import t from "tap";
import { DUMMY_HASH, hashPassword, verifyPassword } from "../../src/lib/passwords.js";

/** `scrypt$N$r$p`: the parameters that set a check's cost. */
const cost = (hash: string) => hash.split("$").slice(0, 4).join("$");

t.test("hashPassword > a new hash > verifies its password and no other", async (t) => {
  const hash = await hashPassword("correct horse battery");
  t.ok(await verifyPassword("correct horse battery", hash), "the password");
  t.notOk(await verifyPassword("correct horse batterY", hash), "another one");
  t.notOk(await verifyPassword("correct horse battery", "md5$abc"), "a hash of another scheme");
});

t.test("DUMMY_HASH > against a new hash > the same parameters, and no password found", async (t) => {
  t.equal(cost(DUMMY_HASH), cost(await hashPassword("any password at all")), "as costly to check as a real hash");
  t.notOk(await verifyPassword("", DUMMY_HASH), "the empty password is not it");
});
