/**
 * Password hashes: a hash verifies its password only, at whatever cost it was made; the dummy
 * hash an unknown name is checked against costs what a real check of the same cost does.
 */
import t from "tap";
import { DUMMY_HASHES, HASH_COSTS, hashPassword, verifyPassword } from "../../src/lib/passwords.js";

/** `scrypt$N$r$p`: the parameters that set a check's cost. */
const params = (hash: string) => hash.split("$").slice(0, 4).join("$");

t.test("hashPassword > each cost > verifies its password and no other", async (t) => {
  for (const cost of HASH_COSTS) {
    const hash = await hashPassword("correct horse battery", cost);
    t.ok(await verifyPassword("correct horse battery", hash), `${cost}: the password`);
    t.notOk(await verifyPassword("correct horse batterY", hash), `${cost}: another one`);
  }
  t.not(params(await hashPassword("x", "standard")), params(await hashPassword("x", "minimal")), "the costs differ");
  t.notOk(await verifyPassword("correct horse battery", "md5$abc"), "a hash of another scheme");
});

t.test("DUMMY_HASHES > against a new hash of each cost > the same parameters, and no password found", async (t) => {
  for (const cost of HASH_COSTS) {
    t.equal(params(DUMMY_HASHES[cost]), params(await hashPassword("any password at all", cost)), `${cost}: as costly as a real check`);
    t.notOk(await verifyPassword("", DUMMY_HASHES[cost]), `${cost}: the empty password is not it`);
  }
});
