/**
 * Browser e2e: the chat page's finish. Messages grouped under one header per author, the character
 * counter and over-long text refused whole, a permanent refusal handed back to the composer, DMs
 * closed from the sidebar, presence greyed while disconnected, and an immediate reconnect when the
 * network comes back or the tab becomes visible.
 *
 * The server runs with a small message limit (200 characters, 400 bytes), so the page learns the
 * limit from the server, and a text of 150 three-byte characters passes the page's check but is
 * refused for good by the server.
 */
import type { Page, Request } from "playwright-core";
import t, { type Test } from "tap";
import {
  messages,
  openConversation,
  problemsOf,
  screenshot,
  send,
  socketInstance,
  waitConnected,
  waitSent,
  workerPid,
} from "./helpers-browser.js";
import { registerByApi, registeredPage, signedInPage, startStack } from "./helpers-stack.js";

const MAX_CHARS = 200;
const stack = await startStack(t, { MESSAGE_MAX_CHARS: String(MAX_CHARS), MESSAGE_MAX_BYTES: "400" });

const { alice, bob } = await stack.guard(async () => {
  const alice = await registeredPage(stack, "alice");
  await registerByApi(stack.base, "bob");
  const bob = await signedInPage(stack, "bob");
  return { alice, bob };
});

/** The shown message with exactly this text (one expected). */
function message(page: Page, text: string) {
  return messages(page, text).first();
}

async function isGrouped(page: Page, text: string): Promise<boolean> {
  return message(page, text).evaluate((item) => item.classList.contains("grouped"));
}

t.test("message list > consecutive messages of one author > one header per run, a new one for another author", async (t) => {
  for (const text of ["first of a run", "second of a run", "third of a run"]) {
    await send(alice.page, text);
    await waitSent(alice.page, text);
  }
  await send(bob.page, "bob cuts in");
  await waitSent(alice.page, "bob cuts in");
  await send(alice.page, "alice again");
  await waitSent(bob.page, "alice again");

  for (const page of [alice.page, bob.page]) {
    t.notOk(await isGrouped(page, "first of a run"), "the first message of a run has the header");
    t.ok(await isGrouped(page, "second of a run"), "the second is grouped under it");
    t.ok(await isGrouped(page, "third of a run"), "the third too");
    t.notOk(await isGrouped(page, "bob cuts in"), "another author starts a new header");
    t.notOk(await isGrouped(page, "alice again"), "and so does the first author coming back");
    const header = message(page, "second of a run").getByTestId("message-meta");
    const box = await header.boundingBox();
    t.ok(box !== null && box.height <= 1, "a grouped message shows no author line");
    t.match(await message(page, "second of a run").locator("time").getAttribute("datetime"), /^\d{4}-/, "its time is still in the page");
    const first = await message(page, "first of a run").boundingBox();
    const second = await message(page, "second of a run").boundingBox();
    t.ok(first && second && second.height < first.height, "a grouped message takes less height than a headed one");
  }
  const day = await alice.page.locator('#messages [data-testid="message"]').first().getAttribute("data-day");
  t.ok(day && day.length > 0, `the first message of the day carries the date separator (${day})`);
  await screenshot(bob.page, "polish-grouped");
});

t.test("composer > near the limit and over it > a counter, and a long paste kept whole and refused with the reason", async (t) => {
  const { page } = alice;
  t.equal(await page.getAttribute("#text", "data-max-chars"), String(MAX_CHARS), "the page has the server's limit");
  t.equal(await page.getAttribute("#text", "maxlength"), null, "nothing cuts the text");

  await page.fill("#text", "a".repeat(100));
  t.notOk(await page.isVisible("#char-count"), "no counter far from the limit");
  await page.fill("#text", "a".repeat(170));
  await page.waitForSelector("#char-count", { state: "visible" });
  t.equal(await page.textContent("#char-count"), `170 / ${MAX_CHARS}`, "counter near the limit");

  // A paste: inserted as one piece of text, as the clipboard does.
  const long = `${"pasted words ".repeat(25)}end`;
  await page.fill("#text", "");
  await page.focus("#text");
  await page.keyboard.insertText(long);
  t.equal(await page.inputValue("#text"), long, "the paste is kept whole");
  t.ok(await page.locator("#char-count").evaluate((el) => el.classList.contains("over")), "the counter says it is over");
  await page.waitForSelector('[data-testid="composer-error"]', { state: "visible" });
  t.match(await page.textContent('[data-testid="composer-error"]'), new RegExp(`limit is ${MAX_CHARS} characters`), "with the reason");
  await screenshot(page, "polish-too-long");

  await page.press("#text", "Enter");
  await page.waitForTimeout(500);
  t.equal(await page.inputValue("#text"), long, "Enter does not send it nor clear it");
  t.equal(await messages(page, long).count(), 0, "nothing was sent, not even as pending");

  const shortened = long.slice(0, MAX_CHARS);
  await page.fill("#text", shortened);
  await page.waitForSelector('[data-testid="composer-error"]', { state: "hidden" });
  await page.press("#text", "Enter");
  await waitSent(bob.page, shortened.trim());
  t.equal(await page.inputValue("#text"), "", "a text within the limit is sent");
});

t.test("outbox > a message the server refuses for good > back in the composer with the reason, no Retry", async (t) => {
  const { page } = alice;
  // 150 characters pass the page's count, but at 3 bytes each they exceed the server's 400 bytes.
  const text = "€".repeat(150);
  await send(page, text);
  await page.waitForSelector('[data-testid="composer-error"]', { state: "visible" });
  t.match(await page.textContent('[data-testid="composer-error"]'), /too long/, "the reason is shown");
  t.equal(await page.inputValue("#text"), text, "the text is back in the composer");
  // Long enough for a retry (the outbox's first backoff is about a second) to show up if there were one.
  await page.waitForTimeout(1_500);
  t.equal(await messages(page, text).count(), 0, "no pending or failed copy in the list");
  t.equal(await page.locator('[data-testid="retry"]').count(), 0, "no Retry offered");
  t.equal(await messages(bob.page, text).count(), 0, "nothing reached the other user");
  await screenshot(page, "polish-refused");

  await page.fill("#text", "");
  await page.waitForSelector('[data-testid="composer-error"]', { state: "hidden" });
});

t.test("outbox > refused for good while a draft is in the composer > kept in the list with Edit and Discard, no Retry", async (t) => {
  const { page, context } = alice;
  const text = "₹".repeat(140);
  // Offline (worker killed, reconnection held), the message waits in the outbox while a draft is typed.
  await context.route("**/socket.io/**", (route) => route.abort());
  process.kill(workerPid(await socketInstance(page)), "SIGKILL");
  await page.waitForSelector('#connection:not([data-state="connected"])', { state: "attached" });
  await send(page, text);
  await page.fill("#text", "a draft");
  await context.unroute("**/socket.io/**");
  await page.click("#retry-now");
  await waitConnected(page, 30_000);

  const failed = messages(page, text);
  await failed.and(page.locator('[data-state="failed"]')).waitFor();
  t.match(await failed.locator('[role="alert"]').textContent(), /too long/, "the reason is on the message");
  t.equal(await failed.getByTestId("retry").count(), 0, "no Retry");
  t.equal(await page.inputValue("#text"), "a draft", "the draft is left alone");
  await screenshot(page, "polish-refused-in-list");

  await failed.getByTestId("edit-refused").click();
  await failed.waitFor({ state: "detached" });
  t.equal(await page.inputValue("#text"), `${text}\na draft`, "Edit brings it back above the draft");
  t.match(await page.textContent('[data-testid="composer-error"]'), /too long/, "with the reason");
  await page.fill("#text", "");
  t.equal(await messages(bob.page, text).count(), 0, "nothing reached the other user");
});

t.test("direct messages > closed from the sidebar > hidden, also after a reload, until a new message arrives", async (t) => {
  const direct = (page: Page) => page.locator('[data-testid="conversation"][data-conversation="@bob"]');
  await bob.page.fill("#start-dm-input", "alice");
  await bob.page.press("#start-dm-input", "Enter");
  await send(bob.page, "a DM alice will close");
  await direct(alice.page).waitFor();
  await openConversation(alice.page, "@bob");
  await waitSent(alice.page, "a DM alice will close");

  await alice.page.click('[data-testid="close-conversation"][data-value="@bob"]');
  await direct(alice.page).waitFor({ state: "detached" });
  t.equal(await alice.page.textContent("#conversation-title"), "#general", "closing the open DM goes back to #general");

  await alice.page.reload();
  await waitConnected(alice.page);
  // The DM's latest page is loaded after the welcome: give it the time to (wrongly) bring it back.
  await alice.page.waitForTimeout(1_000);
  t.equal(await direct(alice.page).count(), 0, "still closed after a reload");

  await send(bob.page, "something new for alice");
  await direct(alice.page).waitFor();
  t.equal(await direct(alice.page).getByTestId("unread").textContent(), "1", "back with the new message unread");
  await openConversation(alice.page, "@bob");
  await waitSent(alice.page, "something new for alice");
  await openConversation(alice.page, "#general");
  await openConversation(bob.page, "#general");
});

/** The computed colour of the presence dot of `user` in the online list. */
function dotColour(page: Page, user: string): Promise<string> {
  return page
    .locator(`[data-testid="online-user"][data-value="${user}"] .presence-dot`)
    .evaluate((dot) => getComputedStyle(dot).backgroundColor);
}

t.test("presence > while the server is down > the online list is greyed and marked stale, live again after", async (t) => {
  const { page } = alice;
  await page.waitForSelector('[data-testid="online-user"][data-value="bob"]');
  const live = await dotColour(page, "bob");
  t.equal(await page.getAttribute("#online-list", "data-stale"), null, "live while connected");

  const stopping = stack.server.stop();
  await page.waitForSelector('#connection:not([data-state="connected"])', { state: "attached" });
  await stopping;
  await page.waitForSelector("#online-list[data-stale]", { state: "attached" });
  t.not(await dotColour(page, "bob"), live, `bob's dot is no longer green (${live})`);
  t.match(await page.textContent("#online-count"), /last known/, "the count says it is not live");
  await screenshot(page, "polish-presence-stale");

  await stack.restartServer();
  await waitConnected(page, 45_000);
  await waitConnected(bob.page, 45_000);
  await page.waitForSelector("#online-list:not([data-stale])", { state: "attached" });
  await page.waitForSelector('[data-testid="online-user"][data-value="bob"]');
  t.equal(await dotColour(page, "bob"), live, "green again once connected");
});

/**
 * socket.io's backoff is 500 ms × 2^attempt with ±50 % jitter, capped at 8 s: after the 4th failed
 * attempt it waits 4 to 8 s before the next. A handshake sooner than this came from the page.
 */
const BACKOFF_AFTER_FOURTH_MS = 4_000;

/**
 * Cuts the page's socket (its worker is killed) while `block` keeps every reconnection attempt
 * failing, and waits until 4 attempts failed. Returns when the 4th failed and the handshake
 * requests made from then on.
 */
async function cutAndWaitOutBackoff(page: Page, block: () => Promise<void>): Promise<{ fourthFailure: number; handshakes: number[] }> {
  const handshake = (request: Request) => request.url().includes("/socket.io/") && !request.url().includes("sid=");
  const failures: number[] = [];
  const handshakes: number[] = [];
  page.on("requestfailed", (request) => {
    if (handshake(request)) failures.push(Date.now());
  });
  page.on("request", (request) => {
    if (handshake(request) && failures.length >= 4) handshakes.push(Date.now());
  });
  await block();
  process.kill(workerPid(await socketInstance(page)), "SIGKILL");
  await page.waitForSelector('#connection[data-state="offline"]', { state: "attached", timeout: 30_000 });
  const deadline = Date.now() + 40_000;
  while (failures.length < 4 && Date.now() < deadline) await page.waitForTimeout(100);
  const fourthFailure = failures[3];
  if (fourthFailure === undefined) throw new Error(`only ${failures.length} reconnection attempts failed`);
  return { fourthFailure, handshakes };
}

async function reconnectedBeforeBackoff(t: Test, page: Page, cut: { fourthFailure: number; handshakes: number[] }): Promise<void> {
  await waitConnected(page, 30_000);
  const first = cut.handshakes[0];
  t.ok(first !== undefined, "a new handshake was made");
  if (first === undefined) return;
  const after = first - cut.fourthFailure;
  t.ok(after < BACKOFF_AFTER_FOURTH_MS, `it started ${after} ms after the last failure, not after socket.io's wait of 4 s or more`);
  t.strictSame(problemsOf(page).errors, [], "no script errors");
}

t.test("reconnect > the network comes back > connects at once instead of waiting out the backoff", async (t) => {
  const { page, context } = alice;
  const cut = await cutAndWaitOutBackoff(page, () => context.setOffline(true));
  t.equal(await page.evaluate(() => navigator.onLine), false, "the page knows it is offline");
  await page.waitForTimeout(500);
  const wentOnline = Date.now();
  await context.setOffline(false);
  await reconnectedBeforeBackoff(t, page, cut);
  t.ok((cut.handshakes[0] ?? 0) >= wentOnline, "the attempt followed the network's return");
  await send(page, "back after the network returned");
  await waitSent(bob.page, "back after the network returned");
});

t.test("reconnect > the tab becomes visible again > connects at once instead of waiting out the backoff", async (t) => {
  const { page, context } = alice;
  const cut = await cutAndWaitOutBackoff(page, async () => {
    await context.route("**/socket.io/**", (route) => route.abort());
  });
  // Headless chromium has no window to hide; the page is told as a browser tells it: the state
  // changes, then visibilitychange fires. (Getters are methods: tsx wraps a named arrow in a
  // helper of its own, which the page does not have.)
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", {
      configurable: true,
      get() {
        return "hidden";
      },
    });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await context.unroute("**/socket.io/**");
  await page.waitForTimeout(500);
  t.equal(cut.handshakes.length, 0, "nothing tried while hidden and in backoff");
  const shown = Date.now();
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", {
      configurable: true,
      get() {
        return "visible";
      },
    });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await reconnectedBeforeBackoff(t, page, cut);
  t.ok((cut.handshakes[0] ?? 0) >= shown, "the attempt followed the tab becoming visible");
});

t.test("layout > phone width > grouped messages and the counter fit", async (t) => {
  const phone = await stack.browser.newContext({
    viewport: { width: 375, height: 740 },
    storageState: await alice.context.storageState(),
  });
  t.teardown(() => phone.close());
  const page = await phone.newPage();
  await page.goto(`${stack.base}/`);
  await waitConnected(page);
  await waitSent(page, "third of a run");
  t.ok(await isGrouped(page, "third of a run"), "grouped at phone width too");
  await page.fill("#text", "b".repeat(190));
  await page.waitForSelector("#char-count", { state: "visible" });
  const noOverflow = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  t.ok(noOverflow, "no horizontal scrolling");
  await screenshot(page, "polish-phone");
  await page.fill("#text", "");
});
