import { Router } from "express";
import { type MetricsSample, renderMetrics } from "../../lib/metrics.js";

/** GET /metrics: every worker of this host (gathered by the primary), in Prometheus text format. */
export function metricsRoutes(collect: () => Promise<MetricsSample[]>): Router {
  const router = Router();
  router.get("/metrics", async (_req, res) => {
    res.type("text/plain; version=0.0.4").send(renderMetrics(await collect()));
  });
  return router;
}
