/**
 * `npm run bench:steady`'s command line: a bad flag is refused before anything starts, naming it.
 * The steps themselves are the harness's runStep, which smoke.test.ts runs end to end.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import t from "tap";
import { PROJECT_ROOT } from "../../src/lib/paths.js";

/** Runs bench:steady with `args`: its exit status and what it printed. */
const steady = (...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [join(PROJECT_ROOT, "dist/bench/steady.js"), ...args],
      // Several run at once on a busy box: the bound only catches one that hangs.
      { encoding: "utf8", timeout: 30_000 },
      (_err, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
    );
  });

t.test("bench:steady > bad flags > exit 2 naming the flag, nothing started", async (t) => {
  const cases = [
    [[], /--rate must be/],
    [["--rate", "fast"], /--rate must be/],
    [["--rate", "1000", "--steps", "0"], /--steps must be/],
    [["--rate", "1000", "--rooms", "3"], /--rooms must be 2 or 10/],
    [["--rate", "1000", "--target", "both"], /--target must be ours or ref/],
    [["--rate", "1000", "--workers", "3"], /--workers must be 1 or 2/],
    [["--rate", "1000", "--agents", "0"], /--agents must be 1\.\.4/],
  ] as const;
  // Started together: each is a node process of its own, and none depends on another.
  const runs = await Promise.all(cases.map(([args]) => steady(...args)));
  for (const [i, [args, named]] of cases.entries()) {
    t.equal(runs[i]?.status, 2, `${args.join(" ")}: exit 2`);
    t.match(runs[i]?.stderr, named);
    t.equal(runs[i]?.stdout, "", "nothing ran");
  }
});

t.test("bench:steady > --help > the flags, exit 0", async (t) => {
  const run = await steady("--help");
  t.equal(run.status, 0);
  for (const flag of ["--rate", "--steps", "--rooms", "--target", "--workers", "--agents"]) t.match(run.stdout, flag);
});
