/**
 * `npm run bench:steady`'s command line: a bad flag is refused before anything starts, naming it.
 * The steps themselves are the harness's runStep, which smoke.test.ts runs end to end.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import t from "tap";
import { PROJECT_ROOT } from "../../src/lib/paths.js";

const steady = (...args: string[]) =>
  spawnSync(process.execPath, [join(PROJECT_ROOT, "dist/bench/steady.js"), ...args], { encoding: "utf8", timeout: 10_000 });

t.test("bench:steady > bad flags > exit 2 naming the flag, nothing started", async (t) => {
  for (const [args, named] of [
    [[], /--rate must be/],
    [["--rate", "fast"], /--rate must be/],
    [["--rate", "1000", "--steps", "0"], /--steps must be/],
    [["--rate", "1000", "--rooms", "3"], /--rooms must be 2 or 10/],
    [["--rate", "1000", "--target", "both"], /--target must be ours or ref/],
    [["--rate", "1000", "--workers", "3"], /--workers must be 1 or 2/],
    [["--rate", "1000", "--agents", "0"], /--agents must be 1\.\.4/],
  ] as const) {
    const run = steady(...args);
    t.equal(run.status, 2, `${args.join(" ")}: exit 2`);
    t.match(run.stderr, named);
    t.equal(run.stdout, "", "nothing ran");
  }
});

t.test("bench:steady > --help > the flags, exit 0", async (t) => {
  const run = steady("--help");
  t.equal(run.status, 0);
  for (const flag of ["--rate", "--steps", "--rooms", "--target", "--workers", "--agents"]) t.match(run.stdout, flag);
});
