/** Workers get the malloc tuning unless the operator chose otherwise, and always what the primary passes. */
import t from "tap";
import { MALLOC_TUNING, workerEnv } from "../../src/primary/worker-env.js";

t.test("workers get the malloc tuning and the primary's variables", async (t) => {
  t.same(workerEnv({ REDIS_URL: "redis://127.0.0.1:1" }, {}), { ...MALLOC_TUNING, REDIS_URL: "redis://127.0.0.1:1" });
  t.equal(MALLOC_TUNING.MALLOC_ARENA_MAX, "1");
});

t.test("what the operator set is inherited as it is, not overridden", async (t) => {
  const env = workerEnv({ REDIS_URL: "redis://127.0.0.1:1" }, { MALLOC_ARENA_MAX: "4" });
  t.notOk("MALLOC_ARENA_MAX" in env, "cluster.fork passes the operator's value on by itself");
  t.equal(env.MALLOC_TRIM_THRESHOLD_, MALLOC_TUNING.MALLOC_TRIM_THRESHOLD_);
});
