/**
 * Which malloc the workers run on. A worker holds thousands of idle connections, each with a few
 * long-lived native allocations among many short-lived ones (read buffers, Redis replies, the
 * handshake). glibc's malloc keeps the pages freed between them resident: on Node 26 about 4 KB per
 * idle socket, a quarter of its memory (B4). jemalloc returns them. The primary preloads jemalloc
 * into its workers when it is installed (Debian's libjemalloc2, which redis-server depends on),
 * and otherwise tunes glibc's malloc (MALLOC_TUNING in config.ts).
 */
import { existsSync } from "node:fs";
import type { WorkerAllocatorConfig } from "../config.js";
import { ConfigError } from "../lib/errors.js";

const JEMALLOC = "libjemalloc.so.2";

/** Where Linux distributions install shared libraries, for this process's architecture first. */
function libraryDirs(arch: string): string[] {
  const triple = arch === "x64" ? "x86_64-linux-gnu" : arch === "arm64" ? "aarch64-linux-gnu" : undefined;
  return [...(triple ? [`/usr/lib/${triple}`, `/lib/${triple}`] : []), "/usr/lib64", "/usr/lib", "/usr/local/lib"];
}

/** The installed jemalloc shared library, if any. */
export function findJemalloc(exists: (path: string) => boolean = existsSync, arch: string = process.arch): string | undefined {
  return libraryDirs(arch)
    .map((dir) => `${dir}/${JEMALLOC}`)
    .find((path) => exists(path));
}

export interface WorkerAllocator {
  /** For the start-up log: what the workers' malloc is. */
  name: "jemalloc" | "glibc" | "LD_PRELOAD";
  /** What the primary adds to its workers' environment. */
  env: Record<string, string>;
}

/**
 * The workers' allocator and the environment that gives it to them. An operator's own LD_PRELOAD
 * wins over "auto"; "jemalloc" without the library is a configuration error, not a silent fallback.
 */
export function workerAllocator(config: WorkerAllocatorConfig, find: () => string | undefined = findJemalloc): WorkerAllocator {
  const glibc: WorkerAllocator = { name: "glibc", env: { ...config.glibcTuning } };
  if (config.choice === "glibc") return glibc;
  if (config.choice === "auto" && config.preload) return { ...glibc, name: "LD_PRELOAD" };
  const jemalloc = find();
  if (!jemalloc) {
    if (config.choice === "auto") return glibc;
    throw new ConfigError([`WORKER_ALLOCATOR: ${JEMALLOC} is not installed (Debian, Ubuntu: apt-get install libjemalloc2)`]);
  }
  const preload = config.preload ? `${jemalloc} ${config.preload}` : jemalloc;
  return { name: "jemalloc", env: { LD_PRELOAD: preload } };
}
