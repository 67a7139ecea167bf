import cluster, { type Worker } from "node:cluster";
import { setTimeout as sleep } from "node:timers/promises";
import { isWorkerMessage, sendToWorker } from "../lib/ipc.js";
import type { Logger } from "../lib/logger.js";
import type { Router } from "./router.js";

export interface SupervisorOptions {
  workers: number;
  /** Environment added to every worker's (the resolved REDIS_URL). */
  env: Record<string, string>;
  /** How long a worker may take to drain on shutdown before it is killed. */
  shutdownTimeoutMs: number;
  /** The same in a rolling restart, where the drain follows the pace of the new workers. */
  restartTimeoutMs: number;
  /** Routes connections to the workers that are ready and not draining. */
  router: Pick<Router, "add" | "remove" | "backlog">;
  /** How long a new worker may take to report ready. */
  startTimeoutMs: number;
  log: Logger;
}

const CRASH_WINDOW_MS = 60_000;
/** How often a draining worker hears the backlog of the workers taking its clients over. */
const BACKLOG_EVERY_MS = 50;
const MAX_BACKOFF_MS = 30_000;

/**
 * Keeps WORKERS workers alive: respawns unexpected exits (backing off exponentially while they
 * crash-loop), restarts them one at a time, and drains them all on shutdown.
 */
export class Supervisor {
  private readonly intended = new WeakSet<Worker>();
  /** Every live worker, whether it takes new connections or not. */
  private readonly live = new Set<Worker>();
  private readonly crashes: number[] = [];
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {
    cluster.on("exit", (worker, code, signal) => this.onExit(worker, code, signal));
  }

  /** Forks every worker and resolves when all report ready. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.workers }, () => this.fork()));
  }

  /**
   * SIGHUP: replaces each worker in turn, the next only once its replacement is ready and the old
   * one has sent its clients away (they reconnect to the new workers while it finishes exiting).
   * The old one sends them no faster than the new ones take them: it hears the router's backlog.
   */
  async rollingRestart(): Promise<void> {
    const old = [...this.live].filter((w) => !this.intended.has(w));
    this.options.log.info({ workers: old.length }, "rolling restart");
    const exits: Promise<void>[] = [];
    const draining = new Set<Worker>();
    const tellBacklog = setInterval(() => {
      const connections = this.options.router.backlog();
      for (const worker of draining) sendToWorker(worker, { type: "router:backlog", connections });
    }, BACKLOG_EVERY_MS);
    try {
      for (const [index, worker] of old.entries()) {
        if (this.stopping) break;
        await this.fork();
        // From the first replacement on, new connections go to new workers only: a client sent away
        // by one old worker must not land on the next old one and be sent away again.
        if (index === 0) for (const other of old) this.options.router.remove(other);
        const { drained, exited } = this.retire(worker, this.options.restartTimeoutMs);
        draining.add(worker);
        exits.push(exited);
        await drained;
        draining.delete(worker);
      }
      await Promise.all(exits);
    } finally {
      clearInterval(tellBacklog);
    }
    this.options.log.info("rolling restart done");
  }

  /** SIGTERM/SIGINT: asks every worker to drain, and kills those still running at the deadline. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.live].map((worker) => this.retire(worker, this.options.shutdownTimeoutMs).exited));
  }

  private fork(): Promise<Worker> {
    const worker = cluster.fork(this.options.env);
    this.live.add(worker);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${worker.id} not ready in time`)), this.options.startTimeoutMs);
      timer.unref();
      const onMessage = (message: unknown) => {
        if (!isWorkerMessage(message) || message.type !== "worker:ready") return;
        cleanup();
        // A connection handed to a worker that has not set up its IPC listener yet would be lost.
        if (!this.stopping) this.options.router.add(worker);
        this.options.log.info({ workerId: worker.id, instance: message.instance }, "worker ready");
        resolve(worker);
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`worker ${worker.id} exited before it was ready`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.once("exit", onExit);
    });
  }

  /**
   * Stops routing to a worker and asks it to drain. `drained`: its clients are gone (or it exited);
   * `exited`: it is gone, killed if it was still running after `timeoutMs`.
   */
  private retire(worker: Worker, timeoutMs: number): { drained: Promise<void>; exited: Promise<void> } {
    this.intended.add(worker);
    this.options.router.remove(worker);
    const gone = new Promise<void>((resolve) => {
      if (worker.isDead()) resolve();
      else worker.once("exit", () => resolve());
    });
    const drained = new Promise<void>((resolve) => {
      const done = () => {
        worker.off("message", onMessage);
        resolve();
      };
      const onMessage = (message: unknown) => {
        if (isWorkerMessage(message) && message.type === "worker:drained") done();
      };
      worker.on("message", onMessage);
      void gone.then(done);
    });
    sendToWorker(worker, { type: "worker:shutdown", timeoutMs });
    const exited = (async () => {
      const result = await Promise.race([gone.then(() => "exited" as const), sleep(timeoutMs)]);
      if (result !== "exited") {
        this.options.log.warn({ workerId: worker.id }, "worker did not drain in time; killing it");
        worker.process.kill("SIGKILL");
        await gone;
      }
    })();
    return { drained, exited };
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    this.live.delete(worker);
    const expected = this.stopping || this.intended.has(worker);
    this.options.log[expected ? "info" : "warn"]({ workerId: worker.id, workerPid: worker.process.pid, code, signal }, "worker exited");
    if (expected) return;
    const delay = this.backoff();
    if (delay > 0) this.options.log.warn({ delayMs: delay }, "workers are crash-looping; backing off");
    setTimeout(() => {
      if (this.stopping) return;
      this.fork().catch((err: Error) => this.options.log.error({ err: err.message }, "respawn failed"));
    }, delay).unref();
  }

  /** 0 for an isolated crash; doubling from 1 s while crashes keep coming within a minute. */
  private backoff(): number {
    const now = Date.now();
    this.crashes.push(now);
    while (this.crashes.length > 0 && now - (this.crashes[0] ?? now) > CRASH_WINDOW_MS) this.crashes.shift();
    const recent = this.crashes.length;
    if (recent <= this.options.workers) return 0;
    return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (recent - this.options.workers - 1));
  }
}
