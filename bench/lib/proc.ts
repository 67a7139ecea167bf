/**
 * CPU and memory of a process tree read from /proc, so the harness measures any server (ours or
 * the reference) from outside, without its cooperation. Linux only, like the benchmark box.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of utime/stime (USER_HZ); 100 on every mainstream kernel. */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const PAGE_SIZE = (() => {
  try {
    return Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).trim()) || 4096;
  } catch {
    return 4096;
  }
})();

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime in µs. Resolution is one tick (10 ms), so measure windows of seconds. */
  cpuUs: number;
  rssBytes: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // exited meanwhile
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): field n is fields[n - 3].
  const ppid = Number(fields[1]);
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { pid, ppid, cpuUs: (ticks * 1e6) / CLK_TCK, rssBytes: rssPages * PAGE_SIZE };
}

/** The pid and every live descendant of it (cluster workers, their children). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (!stat) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(stat.pid);
    else children.set(stat.ppid, [stat.pid]);
  }
  const out = readStat(root) ? [root] : [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface TreeSample {
  /** Per pid, so a window can be diffed even when workers come and go. */
  cpuUs: Map<number, number>;
  rssBytes: number;
  /** The root's own RSS (the primary's, for a server tree; processTree lists the root first). */
  rootRssBytes: number;
  pids: number[];
}

export function sampleTree(root: number): TreeSample {
  return samplePids(processTree(root));
}

export function samplePids(pids: readonly number[]): TreeSample {
  const cpuUs = new Map<number, number>();
  let rssBytes = 0;
  let rootRssBytes = 0;
  const alive: number[] = [];
  for (const pid of pids) {
    const stat = readStat(pid);
    if (!stat) continue;
    cpuUs.set(pid, stat.cpuUs);
    rssBytes += stat.rssBytes;
    if (pid === pids[0]) rootRssBytes = stat.rssBytes;
    alive.push(pid);
  }
  return { cpuUs, rssBytes, rootRssBytes, pids: alive };
}

/**
 * CPU µs spent between two samples. A pid that appeared in between counts from zero; one that
 * vanished loses its last slice (unavoidable from outside; only matters when a worker is killed).
 */
export function cpuBetween(a: TreeSample, b: TreeSample): number {
  let total = 0;
  for (const [pid, after] of b.cpuUs) total += after - (a.cpuUs.get(pid) ?? 0);
  return total;
}

/**
 * CPU time the whole box spent busy (user, nice, system, irq, softirq), in µs, from /proc/stat.
 * Minus what the harness's own processes used, it shows kernel networking work not charged to
 * any process plus other tenants of a shared box: a noisy window is visible in the results.
 */
export function systemBusyUs(): number {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
    return ((user + nice + system + irq + softirq) * 1e6) / CLK_TCK;
  } catch {
    return 0;
  }
}

export function rssOf(pid: number): number {
  return readStat(pid)?.rssBytes ?? 0;
}

export function isAlive(pid: number): boolean {
  return readStat(pid) !== undefined;
}

/** A few facts about the box, for the report's fingerprint. */
export function hardLimit(resource: string): string {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith(resource));
    return line?.slice(26).trim().split(/\s+/)[1] ?? "?";
  } catch {
    return "?";
  }
}
