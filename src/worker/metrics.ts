import cluster from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";

type Message = { type: "metrics:response"; id: number; text?: string; error?: string };

/** Longer than prom-client's own 5 s limit on gathering, so the primary's answer comes first. */
const ASK_TIMEOUT_MS = 6000;

/**
 * How this worker answers GET /metrics: under the primary, with every worker of the host (the
 * primary aggregates them with prom-client's AggregatorRegistry); alone (tests), or when the
 * primary cannot gather them, with its own registry.
 */
export function hostMetrics(registry: Registry): () => Promise<string> {
  const own = () => registry.metrics();
  if (!cluster.isWorker) return own;
  // prom-client answers the primary's requests from these registries; constructing an
  // AggregatorRegistry installs that listener in a worker.
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
  let nextId = 0;
  const waiting = new Map<number, (message: Message | undefined) => void>();
  process.on("message", (message: Message | undefined) => {
    if (message?.type === "metrics:response") waiting.get(message.id)?.(message);
  });
  return () =>
    new Promise<Message | undefined>((resolve) => {
      const id = ++nextId;
      const timer = setTimeout(() => finish(undefined), ASK_TIMEOUT_MS);
      const finish = (message: Message | undefined) => {
        waiting.delete(id);
        clearTimeout(timer);
        resolve(message);
      };
      waiting.set(id, finish);
      process.send?.({ type: "metrics:request", id });
    }).then((answer) => (answer?.text !== undefined ? answer.text : own()));
}
