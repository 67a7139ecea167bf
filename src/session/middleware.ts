import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestHandler } from "express";
import session, { type Store } from "express-session";
import type { Config } from "../config.js";

declare module "express-session" {
  interface SessionData {
    /** The logged-in user's name; absent on an anonymous session. */
    user: string;
    /** When the user logged in (ms), for the absolute timeout. */
    createdAt: number;
  }
}

/** An engine.io handshake request after the session middleware ran on it. */
export type SessionRequest = IncomingMessage & {
  session?: session.Session & Partial<session.SessionData>;
  sessionID?: string;
};

export type SessionMiddleware = RequestHandler;

/**
 * Sessions live in Redis, so any worker on any host serves any user. The cookie lives as long as the
 * absolute timeout; the Redis entry expires after the idle timeout unless a request or an open socket
 * touches it.
 */
export function createSessionMiddleware(config: Config, store: Store, secret: string): SessionMiddleware {
  return session({
    store,
    secret,
    name: config.sessionCookie,
    resave: false,
    saveUninitialized: false,
    // engine.io requests are not express requests, so express's "trust proxy" does not reach them.
    proxy: config.trustProxy !== false ? true : undefined,
    cookie: {
      httpOnly: true,
      sameSite: "lax",
      secure: config.trustProxy !== false ? "auto" : false,
      maxAge: config.sessionAbsoluteSeconds * 1000,
    },
  });
}

/** Whether a session has outlived the absolute timeout. */
export function isExpired(data: { createdAt?: number }, config: Config, now = Date.now()): boolean {
  return data.createdAt === undefined || now - data.createdAt > config.sessionAbsoluteSeconds * 1000;
}

/** Runs an express-style middleware on a raw request (engine.io handshakes) and resolves when it calls next. */
export function runMiddleware(mw: RequestHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    (mw as unknown as (q: IncomingMessage, s: ServerResponse, next: (err?: unknown) => void) => void)(req, res, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}
