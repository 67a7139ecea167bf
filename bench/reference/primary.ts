/**
 * Reference primary: owns the listening socket, routes connections with @socket.io/sticky, forks
 * the workers, respawns a dead one at once and restarts them one by one on SIGHUP (what B5 asks
 * of both servers). It prints the same "listening" JSON line as the project's primary, which is
 * how the harness learns the port.
 */
import cluster, { type Worker } from "node:cluster";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setupMaster } from "@socket.io/sticky";
import type { ReferenceConfig } from "./main.js";

const log = (msg: string, extra: Record<string, unknown> = {}): void => {
  console.log(JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, role: "primary", msg, ...extra }));
};

export function runPrimary(config: ReferenceConfig): void {
  // @socket.io/sticky hands the first chunk of each connection over IPC: with the default JSON
  // serialization the Buffer arrives as a plain object and the worker never answers.
  cluster.setupPrimary({ serialization: "advanced" });
  const server = createServer();
  setupMaster(server, { loadBalancingMethod: "least-connection" });
  // The sticky router never answers HTTP itself; a client that resets mid-request must not crash us.
  server.on("clientError", (_err, socket) => socket.destroy());

  let stopping = false;
  /** Workers being replaced on purpose: their exit must not trigger a respawn. */
  const retiring = new Set<Worker>();

  const fork = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      // The sticky router picks from cluster.workers, and a starting worker drops the connections
      // handed to it before its listener exists: keep it out of the table until it says ready.
      delete cluster.workers?.[worker.id];
      const onMessage = (message: unknown): void => {
        if ((message as { type?: string } | null)?.type !== "ref:ready") return;
        worker.off("message", onMessage);
        worker.off("exit", onEarlyExit);
        if (cluster.workers) cluster.workers[worker.id] = worker;
        resolve(worker);
      };
      const onEarlyExit = (): void => reject(new Error(`worker ${worker.id} exited before it was ready`));
      worker.on("message", onMessage);
      worker.once("exit", onEarlyExit);
    });

  cluster.on("exit", (worker, code, signal) => {
    if (stopping || retiring.delete(worker)) return;
    log("worker died, respawning", { worker: worker.id, code, signal });
    fork().catch((err: unknown) => log("respawn failed", { err: String(err) }));
  });

  const rollingRestart = async (): Promise<void> => {
    const old = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    log("rolling restart", { workers: old.length });
    for (const worker of old) {
      await fork();
      retiring.add(worker);
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      // The sticky router picks from cluster.workers: take the worker out of it first, so no new
      // connection is handed to it while it closes its sockets (Node deletes it again on exit,
      // harmlessly). Only then tell it to drain (see worker.ts).
      delete cluster.workers?.[worker.id];
      worker.send({ type: "ref:drain" });
      const killer = setTimeout(() => worker.process.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    }
    log("rolling restart done");
  };

  let restarting = false;
  process.on("SIGHUP", () => {
    if (restarting) return;
    restarting = true;
    rollingRestart()
      .catch((err: unknown) => log("rolling restart failed", { err: String(err) }))
      .finally(() => {
        restarting = false;
      });
  });

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
    server.close();
    setTimeout(() => process.exit(0), 2000).unref();
    cluster.on("exit", () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  Promise.all(Array.from({ length: config.workers }, fork))
    .then(
      () =>
        new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(config.port, config.host, resolve);
        }),
    )
    .then(() => {
      const { port } = server.address() as AddressInfo;
      log("listening", { url: `http://${config.host}:${port}`, workers: config.workers });
    })
    .catch((err: unknown) => {
      log("start failed", { err: String(err) });
      process.exit(1);
    });
}
