import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../config.js";
import { usernameKey } from "../domain/names.js";
import type { ErrorBody } from "../lib/error-codes.js";
import { AppError, storageUnavailable } from "../lib/errors.js";
import { isExpired, runMiddleware, type SessionMiddleware, type SessionRequest } from "../session/middleware.js";
import { isAllowedOrigin } from "../session/origin.js";
import { isRedisUnavailable } from "../store/outages.js";
import type { PresenceStore } from "../store/presence.js";
import type { RateLimiter } from "../store/rate-limits.js";
import type { ChatServer } from "./context.js";
import { forgetUpgradeRequest } from "./upgrade-request.js";

type EngineMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** What the handshake found in the session, kept until `requireLogin` has read it. */
interface HandshakeSession {
  id?: string;
  user?: string;
  createdAt?: number;
}

const handshakeSessions = new WeakMap<IncomingMessage, HandshakeSession>();

/** Refuses cross-site handshakes (cross-site WebSocket hijacking): 403 before anything else runs. */
export function allowSameOrigin(config: Config) {
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const ok = isAllowedOrigin(req.headers.origin, req.headers["sec-fetch-site"], req.headers.host, config.allowedOrigins);
    callback(ok ? null : "origin not allowed", ok);
  };
}

/**
 * Loads the session on the handshake only (not on every polling request) and rate-limits
 * connections per user. Failures here are HTTP errors the client retries with backoff, which is
 * what a Redis outage must look like; a missing login is decided later, in `requireLogin`.
 */
export function handshakeMiddleware(session: SessionMiddleware, limiter: RateLimiter, config: Config): EngineMiddleware {
  return (req, res, next) => {
    // After the middlewares nothing reads the upgrade stand-in's request (upgrade-request.ts).
    const done = (err?: unknown) => {
      forgetUpgradeRequest(res);
      next(err);
    };
    if (!isHandshake(req)) return done();
    (async () => {
      const found = await loadSession(session, req);
      handshakeSessions.set(req, found);
      const user = found.user;
      if (user) await limiter.hit("connect", usernameKey(user), config.limits.connectRate, 60);
    })().then(
      () => done(),
      (err: unknown) => {
        if (err instanceof AppError && err.code === "E_RATE_LIMITED") return refuse(res, err, "too many connections");
        // Stores throw the Redis client's own errors: an outage is a 503, retried like any failed handshake.
        if (isRedisUnavailable(err)) return refuse(res, storageUnavailable());
        done(err);
      },
    );
  };
}

/** Answers a handshake that may succeed later with the error's status, saying when to retry. */
function refuse(res: ServerResponse, err: AppError, message = err.message): void {
  res.writeHead(err.status, { "Retry-After": String(err.retryAfter ?? 1), "Content-Type": "text/plain" });
  res.end(message);
}

/** Whether `req` opens an engine.io session: every later request of a session names its sid. */
function isHandshake(req: IncomingMessage): boolean {
  return !new URL(req.url ?? "/", "http://localhost").searchParams.has("sid");
}

/**
 * Runs express-session on a stand-in for the handshake request and returns what it found. engine.io
 * keeps the upgrade request (and its response) as long as the socket lives: the session, its
 * cookie, the parsed URL and the properties express-session adds would stay with every connection
 * (B4) for nothing, since a handshake never sends the session cookie back (logging in does that).
 * The response is a stand-in for the same reason: express-session wraps its end and writeHead in
 * closures that hold the request and the session.
 */
async function loadSession(session: SessionMiddleware, req: IncomingMessage): Promise<HandshakeSession> {
  const view = { headers: req.headers, url: req.url, method: req.method, connection: req.socket, socket: req.socket } as SessionRequest;
  await runMiddleware(session, view, unsentResponse());
  return { id: view.sessionID, user: view.session?.user, createdAt: view.session?.createdAt };
}

function unsentResponse(): ServerResponse {
  const ignore = () => undefined;
  return { writeHead: ignore, setHeader: ignore, getHeader: ignore, end: ignore, on: ignore, once: ignore } as unknown as ServerResponse;
}

/**
 * A socket connects only for a logged-in session, and takes its user from that session. Refusing
 * here yields `connect_error` "unauthorized", after which the client does not retry by itself.
 */
export function requireLogin(io: ChatServer, config: Config, presence: PresenceStore): void {
  io.use((socket, next) => {
    const session = handshakeSessions.get(socket.request);
    handshakeSessions.delete(socket.request);
    // socket.io's memory tip: nothing reads the handshake request any more, yet the engine.io
    // socket would keep it as long as it lives (B4). Nor are its headers read again (the session
    // cookie was read above), and a browser sends many that socket.handshake would keep.
    (socket.conn as { request: IncomingMessage | null }).request = null;
    socket.handshake.headers = {};
    const user = session?.user;
    if (!session?.id || !user || isExpired(session, config)) {
      return next(refusal("unauthorized", { code: "E_UNAUTHORIZED", message: "log in first" }));
    }
    const admit = () => {
      socket.data = { user, sessionId: session.id as string, sessionCreatedAt: session.createdAt ?? Date.now(), activeAt: Date.now() };
      next();
    };
    presence.connections(user).then(
      (open) => {
        if (open < config.limits.socketsPerUser) return admit();
        next(refusal("too many connections", { code: "E_RATE_LIMITED", message: "too many open connections for this user" }));
      },
      // Storage is down: the set-up that follows fails too and closes the transport, after which
      // the client retries by itself, as it must after a Redis blip (never a refusal here).
      admit,
    );
  });
}

function refusal(message: string, data: ErrorBody): Error {
  const err = new Error(message) as Error & { data: ErrorBody };
  err.data = data;
  return err;
}
