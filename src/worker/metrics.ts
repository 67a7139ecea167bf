import cluster from "node:cluster";
import type { Counters, MetricsSample } from "../lib/metrics.js";

type Message = { type: "metrics:collect"; id: string } | { type: "metrics:response"; id: number; samples: MetricsSample[] };

const ASK_TIMEOUT_MS = 2000;

/**
 * How this worker answers GET /metrics: under the primary, with the samples of every worker of the
 * host (the primary gathers them); alone (tests), with its own.
 */
export function hostMetrics(counters: Counters, sockets: () => number): () => Promise<MetricsSample[]> {
  const own = () => counters.sample(sockets());
  if (!cluster.isWorker) return async () => [own()];
  let nextId = 0;
  const waiting = new Map<number, (samples: MetricsSample[]) => void>();
  process.on("message", (message: Message) => {
    if (message?.type === "metrics:collect") process.send?.({ type: "metrics:report", id: message.id, sample: own() });
    if (message?.type === "metrics:response") waiting.get(message.id)?.(message.samples);
  });
  return () =>
    new Promise((resolve) => {
      const id = ++nextId;
      const finish = (samples: MetricsSample[]) => {
        waiting.delete(id);
        clearTimeout(timer);
        resolve(samples);
      };
      const timer = setTimeout(() => finish([own()]), ASK_TIMEOUT_MS);
      waiting.set(id, finish);
      process.send?.({ type: "metrics:request", id });
    });
}
