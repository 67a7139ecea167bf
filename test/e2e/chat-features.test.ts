/**
 * Browser e2e of search, mentions and read state: the sidebar's search finds a word in a room and
 * a click opens that room; a message that mentions bob is highlighted and counted on both of his
 * devices, and reading it on one clears the counts on the other.
 */
import type { Page } from "playwright-core";
import t from "tap";
import { login, messages, openConversation, openPage, problemsOf, screenshot, send, waitConnected, waitSent } from "./helpers-browser.js";
import { registerByApi, registeredPage, signedInPage, startStack } from "./helpers-stack.js";

// A small scan bound, so a search must go on with "More" past a dozen messages.
const stack = await startStack(t, { SEARCH_SCAN_MAX: "10" });
const ROOM = "#features";

const { alice, bob, bobElsewhere } = await stack.guard(async () => {
  const alice = await registeredPage(stack, "alice");
  await registerByApi(stack.base, "bob");
  const bob = await signedInPage(stack, "bob");
  // A second device: its own cookies and storage, so only the server can tell it what bob read.
  const bobElsewhere = await signedInPage(stack, "bob");
  return { alice, bob, bobElsewhere };
});

async function joinRoom(page: Page, room: string): Promise<void> {
  await page.fill("#join-room-input", room);
  await page.press("#join-room-input", "Enter");
  await page.waitForFunction((name) => document.getElementById("conversation-title")?.textContent === name, room);
}

const entry = (page: Page, conversation: string) => page.locator(`[data-testid="conversation"][data-conversation="${conversation}"]`);

t.test("search > a word in a room > listed with its room; a click opens the room", async (t) => {
  await joinRoom(alice.page, ROOM);
  await send(alice.page, "the Quarterly report is ready");
  await waitSent(alice.page, "the Quarterly report is ready");
  await openConversation(alice.page, "#general");

  await alice.page.fill('[data-testid="search-input"]', "quarter");
  await alice.page.press('[data-testid="search-input"]', "Enter");
  const hit = alice.page.locator('[data-testid="search-hit"]');
  await hit.first().waitFor();
  t.equal(await hit.count(), 1);
  t.match(await hit.first().textContent(), /#features.*alice.*the Quarterly report is ready/s);
  t.match(await alice.page.getByTestId("search-status").textContent(), /1 found/);
  await screenshot(alice.page, "search-results", true);

  await hit.first().click();
  await alice.page.waitForFunction((name) => document.getElementById("conversation-title")?.textContent === name, ROOM);
  t.equal(await messages(alice.page, "the Quarterly report is ready").count(), 1, "the room shows the message");

  await alice.page.fill('[data-testid="search-input"]', "nowhere-to-be-found");
  await alice.page.press('[data-testid="search-input"]', "Enter");
  await alice.page.getByTestId("search-status").filter({ hasText: "No messages found." }).waitFor();
  t.equal(await hit.count(), 0);
});

t.test("search > a match older than the scan bound > More reads on until it is found", async (t) => {
  await openConversation(alice.page, "#general");
  await send(alice.page, "needle in the haystack");
  await waitSent(alice.page, "needle in the haystack");
  for (let i = 0; i < 12; i++) {
    await send(alice.page, `hay ${i}`);
    await waitSent(alice.page, `hay ${i}`);
  }
  await alice.page.fill('[data-testid="search-input"]', "needle");
  await alice.page.press('[data-testid="search-input"]', "Enter");
  const more = alice.page.getByTestId("search-more");
  const hit = alice.page.locator('[data-testid="search-hit"]');
  // Each request reads at most 10 entries: keep pressing More (a bounded number of times).
  for (let presses = 0; presses < 5 && (await hit.count()) === 0; presses++) {
    await more.waitFor();
    await more.click();
    await alice.page.waitForFunction(() => document.getElementById("search-status")?.textContent !== "Searching…");
  }
  await hit.first().waitFor();
  t.match(await hit.first().textContent(), /needle in the haystack/);
  await alice.page.getByTestId("search-status").filter({ hasText: "1 found." }).waitFor();
  t.ok(await more.isHidden(), "nothing older left to read");
});

t.test("mentions > @bob in a room > highlighted and counted on both devices; read on one clears the other", async (t) => {
  await joinRoom(bob.page, ROOM);
  await openConversation(bob.page, "#general");
  await entry(bobElsewhere.page, ROOM).waitFor();

  await openConversation(alice.page, ROOM);
  await send(alice.page, "@bob can you check the numbers?");
  await waitSent(alice.page, "@bob can you check the numbers?");
  t.notOk(
    await messages(alice.page, "@bob can you check the numbers?").evaluate((el) => el.classList.contains("mention")),
    "not highlighted for its author",
  );

  for (const page of [bob.page, bobElsewhere.page]) {
    await entry(page, ROOM).getByTestId("mentions").filter({ hasText: "@1" }).waitFor();
    await entry(page, ROOM).getByTestId("unread").filter({ hasText: /^1$/ }).waitFor();
  }
  t.pass("both devices count one mention and one unread message");
  await screenshot(bobElsewhere.page, "mention-count", true);

  await openConversation(bob.page, ROOM);
  const mentioned = await waitSent(bob.page, "@bob can you check the numbers?");
  t.ok(await mentioned.evaluate((el) => el.classList.contains("mention")), "highlighted for bob");
  await screenshot(bob.page, "mention-highlight", true);

  await entry(bobElsewhere.page, ROOM).getByTestId("mentions").waitFor({ state: "hidden" });
  await entry(bobElsewhere.page, ROOM).getByTestId("unread").waitFor({ state: "hidden" });
  t.pass("reading on one device cleared both counts on the other");

  // A reload of the other device gets the same state from the server.
  await bobElsewhere.page.reload();
  await waitConnected(bobElsewhere.page);
  await entry(bobElsewhere.page, ROOM).waitFor();
  await bobElsewhere.page.waitForTimeout(500);
  t.ok(await entry(bobElsewhere.page, ROOM).getByTestId("mentions").isHidden(), "no mention count after a reload");
  t.ok(await entry(bobElsewhere.page, ROOM).getByTestId("unread").isHidden(), "no unread count after a reload");
});

t.test("notifications > the permission control > offered, and gone once granted", async (t) => {
  const { context, page } = await openPage(stack.browser);
  await context.grantPermissions(["notifications"]);
  await login(page, stack.base, "alice");
  await waitConnected(page);
  t.ok(await page.getByTestId("notify-toggle").isHidden(), "granted already: nothing to ask");
  t.ok(await alice.page.getByTestId("notify-toggle").isVisible(), "not decided yet: the control is offered");
  await context.close();
});

t.test("pages > no script errors or alerts", async (t) => {
  for (const page of [alice.page, bob.page, bobElsewhere.page]) t.same(problemsOf(page), { errors: [], dialogs: [] });
});
