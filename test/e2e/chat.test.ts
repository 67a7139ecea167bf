/**
 * Browser e2e: two people chatting through two different workers. #general and a direct
 * conversation, presence, typing, unread counts, hostile message text, and history paging with
 * an auto-scroll that leaves a reader who scrolled up alone.
 */
import t from "tap";
import type { Ack } from "../../src/realtime/events.js";
import { call, connect } from "../helpers/clients.js";
import { messages, openConversation, problemsOf, screenshot, send, socketInstance, waitConnected, waitSent } from "./helpers-browser.js";
import { loginOnOtherWorker, registerByApi, registeredPage, startStack } from "./helpers-stack.js";

const stack = await startStack(t);

// Bob registers through the API (no socket yet), then signs in until his page lands on another worker.
const { alice, aliceInstance, bob } = await stack.guard(async () => {
  const alice = await registeredPage(stack, "alice");
  const aliceInstance = await socketInstance(alice.page);
  await registerByApi(stack.base, "Bob");
  const bob = await loginOnOtherWorker(stack, "Bob", aliceInstance);
  return { alice, aliceInstance, bob };
});

t.test("two users > on two workers > see each other online", async (t) => {
  t.not(bob.instance, aliceInstance, "sockets on different workers");
  t.equal(await socketInstance(alice.page), aliceInstance);
  await alice.page.waitForSelector('[data-testid="online-user"][data-value="Bob"]');
  await bob.page.waitForSelector('[data-testid="online-user"][data-value="alice"]');
  t.pass("presence shown on both sides");
});

t.test("#general > a message > reaches the other worker once, marked as own only for its sender", async (t) => {
  await send(alice.page, "hello from alice");
  const mine = await waitSent(alice.page, "hello from alice");
  const theirs = await waitSent(bob.page, "hello from alice");
  await send(bob.page, "hi alice, Bob here");
  await waitSent(alice.page, "hi alice, Bob here");
  await bob.page.waitForTimeout(300);

  t.equal(await mine.count(), 1);
  t.equal(await theirs.count(), 1);
  t.equal(await mine.getAttribute("data-own"), "true");
  t.equal(await theirs.getAttribute("data-own"), "false");
  t.equal(await theirs.getAttribute("data-from"), "alice");
  t.match(await theirs.locator("time").getAttribute("datetime"), /^\d{4}-\d\d-\d\dT/, "time shown");
  t.equal(await messages(alice.page, "hi alice, Bob here").count(), 1);
});

t.test("composer > Shift+Enter > adds a line instead of sending", async (t) => {
  await alice.page.fill("#text", "line one");
  await alice.page.press("#text", "Shift+Enter");
  await alice.page.keyboard.type("line two");
  t.equal(await alice.page.inputValue("#text"), "line one\nline two", "still in the composer");
  await alice.page.press("#text", "Enter");
  await waitSent(bob.page, "line one\nline two");
  t.equal(await alice.page.inputValue("#text"), "", "composer cleared after sending");
});

t.test("typing > alice types in #general > bob sees the indicator", async (t) => {
  await alice.page.fill("#text", "");
  await alice.page.locator("#text").pressSequentially("typing something");
  await bob.page.waitForFunction(() => /alice is typing/.test(document.getElementById("typing")?.textContent ?? ""));
  t.pass("indicator shown");
  await alice.page.fill("#text", "");
});

t.test("direct message > started by name > unread on the other side until opened", async (t) => {
  await alice.page.fill("#start-dm-input", "bob");
  await alice.page.press("#start-dm-input", "Enter");
  await alice.page.waitForFunction(() => document.getElementById("conversation-title")?.textContent === "@Bob");
  await send(alice.page, "a secret for Bob");
  await waitSent(alice.page, "a secret for Bob");

  // Bob is reading #general: the DM shows up in his list with one unread message.
  const badge = bob.page.locator('[data-testid="conversation"][data-conversation="@alice"] [data-testid="unread"]');
  await badge.waitFor({ state: "visible" });
  t.equal(await badge.textContent(), "1");
  t.equal(await messages(bob.page, "a secret for Bob").count(), 0, "not shown in #general");
  // The documentation picture: two users, a DM waiting, presence.
  await screenshot(bob.page, "chat", true);

  await openConversation(bob.page, "@alice");
  await waitSent(bob.page, "a secret for Bob");
  await badge.waitFor({ state: "hidden" });
  await send(bob.page, "got it");
  await waitSent(alice.page, "got it");
  t.equal(await messages(alice.page, "got it").count(), 1);
  t.equal(await messages(alice.page, "hello from alice").count(), 0, "#general messages stay in #general");
  await openConversation(alice.page, "#general");
  await openConversation(bob.page, "#general");
});

t.test("message text > HTML and script payloads > shown literally, nothing runs", async (t) => {
  const payloads = [
    `<img src=x onerror="window.__xss='img'">`,
    `<script>window.__xss='script'</script>`,
    `<a href="javascript:window.__xss='link'">click</a> javascript:window.__xss=1`,
    `"><svg onload=window.__xss='svg'>`,
  ];
  for (const text of payloads) await send(alice.page, text);
  await send(alice.page, "see https://example.com/page?q=1 for details");
  for (const text of payloads) await waitSent(bob.page, text);
  await waitSent(bob.page, "see https://example.com/page?q=1 for details");

  for (const page of [alice.page, bob.page]) {
    for (const text of payloads) {
      t.equal(await messages(page, text).locator('[data-testid="message-text"]').textContent(), text, "literal text");
    }
    t.equal(await page.locator("#messages img, #messages script, #messages svg").count(), 0, "no element injected");
    const hrefs = await page.locator("#messages a").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    t.ok(hrefs.length > 0, "the https URL is a link");
    t.ok(
      hrefs.every((href) => href?.startsWith("https://") || href?.startsWith("http://")),
      `only http(s) links: ${hrefs.join(", ")}`,
    );
    t.equal(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss), undefined, "no payload ran");
    t.strictSame(problemsOf(page).dialogs, [], "no dialog opened");
    t.strictSame(problemsOf(page).errors, [], "no script errors");
  }
  await screenshot(bob.page, "chat-xss");
});

t.test("history > a long room > pages in older messages on scroll, in order, once each", async (t) => {
  const TOTAL = 130;
  const { socket: carol } = await connect(stack.base, await registerByApi(stack.base, "carol"));
  t.teardown(() => carol.close());
  await ok(call(carol, "room:join", { room: "#history" }));
  for (let i = 1; i <= TOTAL; i++) {
    await ok(call(carol, "message:send", { to: "#history", text: `old message ${i}`, clientId: `seed-${i}-abcdefgh` }));
  }

  const { page } = alice;
  await page.fill("#join-room-input", "history");
  await page.press("#join-room-input", "Enter");
  await page.waitForFunction(() => document.getElementById("conversation-title")?.textContent === "#history");
  await waitSent(page, `old message ${TOTAL}`);
  const shown = page.locator('#messages [data-testid="message"]');
  t.ok((await shown.count()) < TOTAL, "starts with the latest page only");

  // Scroll to the top until the beginning of the conversation is reached.
  for (let i = 0; i < 20 && !(await page.isVisible("#history-start")); i++) {
    await page.evaluate(() => {
      document.getElementById("message-scroller")?.scrollTo({ top: 0 });
    });
    await page.waitForTimeout(200);
  }
  t.ok(await page.isVisible("#history-start"), "reached the beginning");
  const texts = await page.locator('#messages [data-testid="message-text"]').allTextContents();
  t.strictSame(
    texts,
    Array.from({ length: TOTAL }, (_, i) => `old message ${i + 1}`),
    "every message once, oldest first",
  );

  // Reading old messages: a new one must not yank the view down, but is announced.
  const before = await page.evaluate(() => document.getElementById("message-scroller")?.scrollTop ?? -1);
  await ok(call(carol, "message:send", { to: "#history", text: "brand new", clientId: "seed-new-abcdefgh" }));
  await waitSent(page, "brand new");
  await page.waitForSelector("#jump-latest", { state: "visible" });
  const after = await page.evaluate(() => document.getElementById("message-scroller")?.scrollTop ?? -1);
  t.equal(after, before, "scroll position kept");
  await page.click("#jump-latest");
  const atBottom = await page.evaluate(() => {
    const el = document.getElementById("message-scroller");
    return el ? el.scrollHeight - el.scrollTop - el.clientHeight < 2 : false;
  });
  t.ok(atBottom, "jump goes to the newest message");
  await page.waitForSelector("#jump-latest", { state: "hidden" });
});

t.test("rooms > leave a joined room > it leaves the list and the view returns to #general", async (t) => {
  const { page } = alice;
  await page.click('[data-testid="conversation"][data-conversation="#history"] ~ button[data-action="leave"]');
  await page.waitForSelector('[data-testid="conversation"][data-conversation="#history"]', { state: "detached" });
  t.equal(await page.textContent("#conversation-title"), "#general");
});

t.test("direct message > to a name nobody has > explains and goes back", async (t) => {
  const { page } = alice;
  await page.fill("#start-dm-input", "nobody-by-that-name");
  await page.press("#start-dm-input", "Enter");
  await page.waitForSelector("#notice", { state: "visible" });
  t.match(await page.textContent("#notice"), /nobody-by-that-name/);
  await page.waitForSelector('[data-testid="conversation"][data-conversation="@nobody-by-that-name"]', { state: "detached" });
  t.equal(await page.textContent("#conversation-title"), "#general");
});

t.test("layout > phone width, dark scheme > the sidebar is a drawer", async (t) => {
  const phone = await stack.browser.newContext({
    viewport: { width: 375, height: 740 },
    colorScheme: "dark",
    storageState: await alice.context.storageState(),
  });
  t.teardown(() => phone.close());
  const page = await phone.newPage();
  await page.goto(`${stack.base}/`);
  await waitConnected(page);
  await openConversationOnPhone(page, "#general");
  await waitSent(page, "hello from alice");
  t.notOk(await page.isVisible("#sidebar"), "sidebar hidden at phone width");
  const noOverflow = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  t.ok(noOverflow, "no horizontal scrolling");
  await screenshot(page, "chat-phone-dark", true);
  await page.click("#sidebar-toggle");
  await page.waitForSelector("#sidebar", { state: "visible" });
  await screenshot(page, "chat-phone-sidebar");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#sidebar", { state: "hidden" });
});

async function openConversationOnPhone(page: typeof alice.page, conversation: string): Promise<void> {
  await page.click("#sidebar-toggle");
  await page.waitForSelector("#sidebar", { state: "visible" });
  await openConversation(page, conversation);
}

async function ok<T>(reply: Promise<Ack<T>>): Promise<T> {
  const settled = await reply;
  if (!settled.ok) throw new Error(`${settled.error.code}: ${settled.error.message}`);
  return settled.data;
}
