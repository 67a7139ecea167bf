import { Router } from "express";

export interface Health {
  /** False while starting or draining: load balancers should send traffic elsewhere. */
  accepting(): boolean;
  /** Resolves when Redis answers a PING. */
  redisReachable(): Promise<boolean>;
}

export function healthRoutes(health: Health): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    if (!health.accepting()) return res.status(503).json({ status: "draining" });
    if (!(await health.redisReachable())) return res.status(503).json({ status: "redis unreachable" });
    res.json({ status: "ready" });
  });
  return router;
}
