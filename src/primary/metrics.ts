import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry } from "prom-client";

type Request = { type: "metrics:request"; id: number };

/**
 * Answers a worker's `metrics:request` with the Prometheus text of every worker of the host,
 * gathered and merged by prom-client's AggregatorRegistry, so GET /metrics shows the whole host
 * whichever worker serves it. When a worker does not answer, the reply carries the error and the
 * asking worker serves its own metrics.
 */
export function serveHostMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker: Worker, message: Request | undefined) => {
    if (message?.type !== "metrics:request") return;
    const reply = (answer: { text: string } | { error: string }) => {
      if (worker.isConnected()) worker.send({ type: "metrics:response", id: message.id, ...answer }, () => undefined);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
}
