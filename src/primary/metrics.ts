import cluster, { type Worker } from "node:cluster";
import type { MetricsSample } from "../lib/metrics.js";

type Message = { type: "metrics:request"; id: number } | { type: "metrics:report"; id: string; sample: MetricsSample };

const GATHER_TIMEOUT_MS = 1000;

/**
 * Answers a worker's `metrics:request` with the samples of every live worker of the host, so
 * GET /metrics shows the whole host whichever worker serves it. Workers that do not answer in
 * time are left out rather than failing the scrape.
 */
export function serveHostMetrics(): void {
  const pending = new Map<string, { samples: MetricsSample[]; expected: number; done: () => void }>();
  cluster.on("message", (worker: Worker, message: Message) => {
    if (message?.type === "metrics:report") {
      const gather = pending.get(message.id);
      gather?.samples.push(message.sample);
      if (gather && gather.samples.length >= gather.expected) gather.done();
      return;
    }
    if (message?.type !== "metrics:request") return;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true);
    const key = `${worker.id}:${message.id}`;
    const samples: MetricsSample[] = [];
    const done = () => {
      if (!pending.delete(key)) return;
      clearTimeout(timer);
      if (worker.isConnected()) worker.send({ type: "metrics:response", id: message.id, samples }, () => undefined);
    };
    const timer = setTimeout(done, GATHER_TIMEOUT_MS);
    pending.set(key, { samples, expected: workers.length, done });
    for (const w of workers) w.send({ type: "metrics:collect", id: key }, () => undefined);
  });
}
