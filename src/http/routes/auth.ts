import { type Request, type Response, Router, urlencoded } from "express";
import { AppError } from "../../lib/errors.js";
import type { Accounts, Credentials } from "../accounts.js";
import { toAppError } from "../errors.js";

export interface AuthRouteDeps {
  accounts: Accounts;
  instance: string;
  /** Ends every socket of a session of `user`, on every worker, after telling it `session:ended`. */
  endSockets(user: string, sessionId: string): void;
}

/**
 * Starts a fresh session for the user: a new id defeats session fixation. The sockets of the
 * session it replaces end with it, whoever logs in now.
 */
async function logIn(req: Request, user: string, deps: AuthRouteDeps): Promise<void> {
  const previous = req.session?.user;
  const replaced = req.sessionID;
  await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
  if (previous !== undefined) deps.endSockets(previous, replaced);
  req.session.user = user;
  req.session.createdAt = Date.now();
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
}

async function logOut(req: Request, res: Response, deps: AuthRouteDeps, cookieName: string): Promise<void> {
  const id = req.sessionID;
  const user = req.session?.user;
  if (user) {
    await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
    deps.endSockets(user, id);
  }
  res.clearCookie(cookieName, { path: "/" });
}

function credentials(body: unknown): Credentials {
  const { username, password } = (body ?? {}) as Record<string, unknown>;
  return { username, password };
}

/** Browser forms: plain posts that work without JavaScript; errors re-render the form. */
export function formAuthRoutes(deps: AuthRouteDeps, cookieName: string): Router {
  const router = Router();
  const form = urlencoded({ extended: false, limit: "4kb" });

  const handle = (page: "login" | "register", action: (req: Request) => Promise<string>) => async (req: Request, res: Response) => {
    try {
      await logIn(req, await action(req), deps);
      res.redirect(303, "/");
    } catch (err) {
      // An outage re-renders the form too (503, "retry shortly"); only a bug goes to the error handler.
      const appError = toAppError(err);
      if (!appError) throw err;
      const username = typeof req.body?.username === "string" ? req.body.username.slice(0, 32) : "";
      if (appError.retryAfter) res.setHeader("Retry-After", String(appError.retryAfter));
      res.status(appError.status).render(page, {
        title: page === "login" ? "Sign in" : "Register",
        page,
        error: appError.message,
        username,
        instance: deps.instance,
      });
    }
  };

  router.post(
    "/login",
    form,
    handle("login", (req) => deps.accounts.login(credentials(req.body), req.ip ?? "")),
  );
  router.post(
    "/register",
    form,
    handle("register", (req) => deps.accounts.register(credentials(req.body), req.ip ?? "")),
  );
  router.post("/logout", form, async (req, res) => {
    await logOut(req, res, deps, cookieName);
    res.redirect(303, "/login");
  });
  return router;
}

/** The JSON API for native clients and tests (docs/protocol.md). */
export function apiAuthRoutes(deps: AuthRouteDeps, cookieName: string): Router {
  const router = Router();
  router.post("/register", async (req, res) => {
    const user = await deps.accounts.register(credentials(req.body), req.ip ?? "");
    await logIn(req, user, deps);
    res.json({ user });
  });
  router.post("/login", async (req, res) => {
    const user = await deps.accounts.login(credentials(req.body), req.ip ?? "");
    await logIn(req, user, deps);
    res.json({ user });
  });
  router.post("/logout", async (req, res) => {
    await logOut(req, res, deps, cookieName);
    res.json({});
  });
  router.get("/session", (req, res) => {
    if (!req.session?.user) throw new AppError("E_UNAUTHORIZED", "not logged in");
    res.json({ user: req.session.user });
  });
  return router;
}
