import { Router } from "express";
import { prometheusContentType } from "prom-client";

/** GET /metrics: every worker of this host (gathered by the primary), in Prometheus text format. */
export function metricsRoutes(collect: () => Promise<string>): Router {
  const router = Router();
  router.get("/metrics", async (_req, res) => {
    res.type(prometheusContentType).send(await collect());
  });
  return router;
}
