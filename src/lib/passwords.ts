import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

/**
 * What a new hash costs (PASSWORD_HASH_COST). `standard` is one of OWASP's equivalent settings
 * for scrypt (N=2^15, r=8, p=3: 32 MiB, about 0.2 s of CPU); `minimal` (1 MiB, a few ms) is for
 * test suites and development, which register hundreds of users, and is refused in production.
 */
export const HASH_COSTS = ["standard", "minimal"] as const;
export type HashCost = (typeof HASH_COSTS)[number];

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

const PARAMS: Record<HashCost, ScryptParams> = {
  standard: { N: 2 ** 15, r: 8, p: 3 },
  minimal: { N: 2 ** 10, r: 8, p: 1 },
};
const KEY_LENGTH = 32;

/**
 * Hashes of random passwords nobody kept, one per cost: checking an unknown name against the one
 * of the current cost costs what a real check costs (no user enumeration by timing). Constants,
 * so no process pays a hash to start.
 */
export const DUMMY_HASHES: Record<HashCost, string> = {
  standard: "scrypt$32768$8$3$TYubKc0Db2AgZ3NBWJWUyg==$ysSNw6ndib/bc3eziS8OWYLhCsgkv4sLP/v7XBJ5+xE=",
  minimal: "scrypt$1024$8$1$nSQOZjxR5HizeMjfURF0Qg==$CXkfNBiDF5+YmP4cyaxnDshWnZrxb1ajEojkiuTp64U=",
};

/** node's crypto.scrypt runs on the libuv pool, so hashing never blocks the event loop. */
function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * Returns a self-describing hash: `scrypt$N$r$p$salt$key` (base64), so the cost can change later
 * and every stored hash still verifies at the cost it was made with.
 */
export async function hashPassword(password: string, cost: HashCost): Promise<string> {
  const params = PARAMS[cost];
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return ["scrypt", params.N, params.r, params.p, salt.toString("base64"), key.toString("base64")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, "base64");
  const actual = await derive(password, Buffer.from(salt, "base64"), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
