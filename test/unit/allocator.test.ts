import t from "tap";
import { MALLOC_TUNING, type WorkerAllocatorConfig } from "../../src/config.js";
import { ConfigError } from "../../src/lib/errors.js";
import { findJemalloc, workerAllocator } from "../../src/primary/allocator.js";

const JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
const settings = (choice: WorkerAllocatorConfig["choice"], preload?: string): WorkerAllocatorConfig => ({
  choice,
  glibcTuning: MALLOC_TUNING,
  preload,
});

t.test("findJemalloc > the architecture's library folder first, then the generic ones", async (t) => {
  const seen: string[] = [];
  const none = (path: string) => {
    seen.push(path);
    return false;
  };
  t.equal(findJemalloc(none, "x64"), undefined);
  t.equal(seen[0], JEMALLOC);
  t.equal(
    findJemalloc((path) => path === "/usr/lib64/libjemalloc.so.2", "x64"),
    "/usr/lib64/libjemalloc.so.2",
  );
  t.equal(
    findJemalloc((path) => path.startsWith("/usr/lib/aarch64-linux-gnu/"), "arm64"),
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
  );
});

t.test("workerAllocator > auto with jemalloc installed > preloaded into the workers", async (t) => {
  t.same(
    workerAllocator(settings("auto"), () => JEMALLOC),
    { name: "jemalloc", env: { LD_PRELOAD: JEMALLOC } },
  );
});

t.test("workerAllocator > auto without jemalloc > glibc's malloc, tuned", async (t) => {
  t.same(
    workerAllocator(settings("auto"), () => undefined),
    { name: "glibc", env: MALLOC_TUNING },
  );
});

t.test("workerAllocator > auto with the operator's own LD_PRELOAD > left as the operator set it", async (t) => {
  const chosen = workerAllocator(settings("auto", "/opt/tcmalloc.so"), () => JEMALLOC);
  t.equal(chosen.name, "LD_PRELOAD");
  t.notOk("LD_PRELOAD" in chosen.env, "the workers inherit the operator's value");
});

t.test("workerAllocator > jemalloc asked for > put before the operator's preload", async (t) => {
  t.same(workerAllocator(settings("jemalloc", "/opt/trace.so"), () => JEMALLOC).env, { LD_PRELOAD: `${JEMALLOC} /opt/trace.so` });
});

t.test("workerAllocator > jemalloc asked for but not installed > a configuration error", async (t) => {
  t.throws(() => workerAllocator(settings("jemalloc"), () => undefined), ConfigError);
});

t.test("workerAllocator > glibc asked for > no preload even when jemalloc is installed", async (t) => {
  t.same(
    workerAllocator(settings("glibc"), () => JEMALLOC),
    { name: "glibc", env: MALLOC_TUNING },
  );
});
