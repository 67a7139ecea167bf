import { Router } from "express";

export interface PageOptions {
  instance: string;
  /** MESSAGE_MAX_CHARS: the chat page's composer counts against it (one source for both). */
  messageMaxChars: number;
}

/** Server-rendered pages; the chat page's behaviour comes from static/js/chat.js. */
export function pageRoutes({ instance, messageMaxChars }: PageOptions): Router {
  const router = Router();
  router.get("/", (req, res) => {
    const user = req.session?.user;
    if (!user) return res.redirect(302, "/login");
    res.render("chat", { title: "Chat", page: "chat", script: "chat", user, instance, maxChars: messageMaxChars });
  });
  for (const page of ["login", "register"] as const) {
    router.get(`/${page}`, (req, res) => {
      if (req.session?.user) return res.redirect(302, "/");
      res.render(page, { title: page === "login" ? "Sign in" : "Register", page, instance });
    });
  }
  return router;
}
