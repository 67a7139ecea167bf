/**
 * Browser e2e: accounts and sessions. Registration and sign-in (with and without JavaScript),
 * their error messages, a reload that keeps the session and the history, and a logout in one tab
 * that signs the other tab out.
 */
import t from "tap";
import { startCluster } from "../helpers/cluster.js";
import { messages, openPage, PASSWORD, problemsOf, register, screenshot, send, waitConnected, waitSent } from "./helpers-browser.js";
import { startStack } from "./helpers-stack.js";

const stack = await startStack(t);

t.test("register > new account > lands on the chat, connected, as that user", async (t) => {
  const { context, page } = await openPage(stack.browser);
  t.teardown(() => context.close());

  await page.goto(`${stack.base}/register`);
  await screenshot(page, "register");
  await register(page, stack.base, "alice");
  await waitConnected(page);

  t.equal(await page.textContent("#me"), "alice");
  t.equal(await page.getAttribute("#connection", "data-state"), "connected");
  t.match(await page.textContent("#socket-instance"), /^[^/]+\/\d+$/, "socket instance is <host>/<pid>");
  t.strictSame(problemsOf(page).errors, [], "no script errors");
});

t.test("reload > after chatting > still signed in and the history is shown once", async (t) => {
  const { context, page } = await openPage(stack.browser);
  t.teardown(() => context.close());
  await register(page, stack.base, "reloader");
  await waitConnected(page);
  await send(page, "before the reload");
  await waitSent(page, "before the reload");

  await page.reload();
  await waitConnected(page);

  t.equal(new URL(page.url()).pathname, "/", "not sent to /login");
  t.equal(await page.textContent("#me"), "reloader");
  await waitSent(page, "before the reload");
  t.equal(await messages(page, "before the reload").count(), 1, "history shown exactly once");

  // A second reload goes through the catch-up path with the saved lastIds: still no duplicate.
  await page.reload();
  await waitConnected(page);
  await waitSent(page, "before the reload");
  await page.waitForTimeout(500);
  t.equal(await messages(page, "before the reload").count(), 1, "still exactly once after a second reload");
  await screenshot(page, "chat-reload");
});

t.test("register > a taken name > says so and keeps the name typed", async (t) => {
  const { context, page } = await openPage(stack.browser);
  t.teardown(() => context.close());
  await page.goto(`${stack.base}/register`);
  await page.fill("#username", "alice");
  await page.fill("#password", PASSWORD);
  const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.click("#submit")]);

  t.equal(response.status(), 409);
  t.equal(new URL(page.url()).pathname, "/register");
  await page.waitForSelector("#form-error");
  t.ok(await page.isVisible("#form-error"), "error shown");
  t.match(await page.textContent("#form-error"), /\S/, "error has text");
  t.equal(await page.inputValue("#username"), "alice", "name kept");
  t.equal(await page.getAttribute("#username", "aria-describedby"), "form-error username-help");
  await screenshot(page, "register-taken");
});

t.test("login > a wrong password > says so, keyboard only", async (t) => {
  const { context, page } = await openPage(stack.browser);
  t.teardown(() => context.close());
  await page.goto(`${stack.base}/login`);
  await screenshot(page, "login", true);

  // autofocus on the name; Tab to the password; Enter submits.
  t.equal(await page.evaluate(() => document.activeElement?.id), "username", "name field focused on load");
  await page.keyboard.type("alice");
  await page.keyboard.press("Tab");
  await page.keyboard.type("not the password");
  const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.keyboard.press("Enter")]);

  t.equal(response.status(), 401);
  await page.waitForSelector("#form-error");
  t.ok(await page.isVisible("#form-error"), "error shown");
  t.equal(await page.inputValue("#username"), "alice", "name kept");
  t.equal(await page.evaluate(() => document.activeElement?.id), "password", "focus goes to the password");
  await screenshot(page, "login-error");

  // The right password from the same form works.
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForURL(`${stack.base}/`), page.press("#password", "Enter")]);
  await waitConnected(page);
});

t.test("login > too many failures > says the user is rate limited", async (t) => {
  // A second server on the same Redis, with a tiny login budget (its own key prefix).
  const strict = await startCluster({
    REDIS_URL: stack.redis.url,
    REDIS_PREFIX: "e2e-strict:",
    LOGIN_RATE: "2",
    LOGIN_WINDOW: "600",
    SHUTDOWN_TIMEOUT_MS: "3000",
  });
  t.teardown(() => strict.stop());
  const { context, page } = await openPage(stack.browser);
  t.teardown(() => context.close());

  let status = 0;
  for (let attempt = 0; attempt < 5 && status !== 429; attempt++) {
    await page.goto(`${strict.url}/login`);
    await page.fill("#username", "nobody-here");
    await page.fill("#password", "wrong password");
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.click("#submit")]);
    status = response.status();
  }
  t.equal(status, 429, "rate limited within 5 attempts");
  await page.waitForSelector("#form-error");
  t.ok(await page.isVisible("#form-error"), "error shown");
  t.match(await page.textContent("#form-error"), /\S/);
  await screenshot(page, "login-rate-limited");
});

t.test("forms > JavaScript disabled > register, sign out and sign in still work", async (t) => {
  const { context, page } = await openPage(stack.browser, { javaScriptEnabled: false });
  t.teardown(() => context.close());

  await register(page, stack.base, "nojs");
  t.equal(await page.textContent("#me"), "nojs", "chat page rendered for the user");
  await Promise.all([page.waitForURL(`${stack.base}/login`), page.click("#logout")]);
  await page.fill("#username", "nojs");
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForURL(`${stack.base}/`), page.click("#submit")]);
  t.equal(await page.textContent("#me"), "nojs");
});

t.test("logout > in one tab > the other tab of the session goes to /login", async (t) => {
  const { context, page: first } = await openPage(stack.browser);
  t.teardown(() => context.close());
  await register(first, stack.base, "twotabs");
  await waitConnected(first);
  const second = await context.newPage();
  await second.goto(`${stack.base}/`);
  await waitConnected(second);

  // The server's session:ended reaches the tab that posted the form too: it must not navigate a
  // second time and abort the form's own navigation.
  const aborted: string[] = [];
  first.on("requestfailed", (request) => {
    if (request.isNavigationRequest()) aborted.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  await Promise.all([first.waitForURL(`${stack.base}/login`), first.click("#logout")]);
  t.same(aborted, [], "the tab that logged out navigated once");
  await second.waitForURL(`${stack.base}/login`);
  t.pass("second tab sent to /login");

  // And the session really is gone: the chat redirects.
  await second.goto(`${stack.base}/`);
  t.equal(new URL(second.url()).pathname, "/login");
});
