import express, { type ErrorRequestHandler, type Express, type RequestHandler } from "express";
import type { Config } from "../config.js";
import { AppError, toErrorBody } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { Counters } from "../lib/metrics.js";
import { STATIC_DIR, TEMPLATES_DIR } from "../lib/paths.js";
import { isExpired, type SessionMiddleware } from "../session/middleware.js";
import type { Accounts } from "./accounts.js";
import { onlyFrom } from "./address-allow.js";
import { toAppError } from "./errors.js";
import { apiAuthRoutes, formAuthRoutes } from "./routes/auth.js";
import { type Health, healthRoutes } from "./routes/health.js";
import { metricsRoutes } from "./routes/metrics.js";
import { pageRoutes } from "./routes/pages.js";
import { sameOriginOnly, securityHeaders } from "./security.js";
import { useHandlebars } from "./views.js";

/** The largest JSON body the API reads. */
export const API_BODY_BYTES = 16 * 1024;

export interface AppDeps {
  counters: Counters;
  /** Prometheus text of every worker of the host, for GET /metrics. */
  metrics(): Promise<string>;
  config: Config;
  log: Logger;
  session: SessionMiddleware;
  accounts: Accounts;
  health: Health;
  /** "<host>/<pid>" of this worker, shown on every page. */
  instance: string;
  endSockets(user: string, sessionId: string): void;
}

/** The Express app of one worker: pages, the JSON API and health checks. It never listens itself. */
export function createApp(deps: AppDeps): Express {
  const { config } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.trustProxy);
  useHandlebars(app, TEMPLATES_DIR, config.production);

  app.use(securityHeaders);
  app.use((_req, _res, next) => {
    deps.counters.httpRequests++;
    next();
  });
  app.use(healthRoutes(deps.health));
  app.use("/metrics", onlyFrom(config.metricsAllow));
  app.use(metricsRoutes(deps.metrics));
  app.use("/static", express.static(STATIC_DIR, { maxAge: config.production ? "1h" : 0, index: false }));
  app.use(deps.session, endExpiredSession(config));
  app.use(sameOriginOnly(config.allowedOrigins));
  app.use("/api", requireJson, express.json({ limit: API_BODY_BYTES }), apiAuthRoutes(deps, config.sessionCookie));
  app.use(formAuthRoutes(deps, config.sessionCookie));
  app.use(pageRoutes({ instance: deps.instance, messageMaxChars: config.limits.messageMaxChars }));
  app.use((_req, _res, next) => next(new AppError("E_NOT_FOUND", "no such page")));
  app.use(errorHandler(deps.log));
  return app;
}

function endExpiredSession(config: Config): RequestHandler {
  return (req, _res, next) => {
    if (!req.session?.user || !isExpired(req.session, config)) return next();
    req.session.destroy((err) => next(err));
  };
}

const requireJson: RequestHandler = (req, _res, next) => {
  if (req.method === "POST" && !req.is("application/json")) {
    return next(new AppError("E_INVALID", "Content-Type must be application/json"));
  }
  next();
};

function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const appError = toAppError(err);
    if (!appError) log.error({ err, url: req.originalUrl }, "request failed");
    const error = appError ?? new AppError("E_INTERNAL", "internal error");
    const body = toErrorBody(error);
    if (error.retryAfter) res.setHeader("Retry-After", String(error.retryAfter));
    if (res.headersSent) return;
    const wantsJson = req.originalUrl.startsWith("/api/") || !req.accepts("html");
    res.status(error.status);
    if (wantsJson) res.json({ error: body });
    else res.type("text/plain").send(`${error.status} ${body.message}`);
  };
}
