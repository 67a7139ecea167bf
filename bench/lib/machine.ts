/** The environment fingerprint printed with every result: figures mean little without the box. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import type { Machine } from "../report/types.js";
import { PATHS } from "./paths.js";
import { hardLimit } from "./proc.js";

function read(path: string): string {
  try {
    return readFileSync(path, "utf8").trim().replace(/\s+/g, "–");
  } catch {
    return "?";
  }
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", cwd: PATHS.root, stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "?";
  }
}

export function fingerprint(): Machine {
  const redis = /v=(\S+)/.exec(run("redis-server", ["--version"]))?.[1] ?? "?";
  const dirty = run("git", ["status", "--porcelain"]) !== "" ? " (with uncommitted changes)" : "";
  return {
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.versions.node,
    redis,
    openFilesHard: hardLimit("Max open files"),
    somaxconn: read("/proc/sys/net/core/somaxconn"),
    portRange: read("/proc/sys/net/ipv4/ip_local_port_range"),
    loadAverageAtStart: loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
    commit: `${run("git", ["rev-parse", "--short", "HEAD"])}${dirty}`,
  };
}
