import cluster from "node:cluster";
import { type Logger, pino } from "pino";
import type { LogLevel } from "../config.js";

export type { Logger } from "pino";

/**
 * One JSON logger per process. Redacts what must never reach a log: cookies, passwords, session ids.
 * Message text is never passed to the logger in the first place.
 */
export function createLogger(level: LogLevel, role: "primary" | "worker" = cluster.isPrimary ? "primary" : "worker"): Logger {
  return pino({
    level,
    base: { pid: process.pid, worker: cluster.worker?.id ?? 0, role },
    redact: {
      paths: ["req.headers.cookie", "headers.cookie", "password", "*.password", "sessionId", "*.sessionId"],
      censor: "[redacted]",
    },
  });
}
