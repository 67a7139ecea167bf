/**
 * Browser e2e of private rooms: alice creates one (lock in the sidebar), invites bob and carol
 * from the member panel (online dots), bob sees it appear and reads it; alice removes bob, whose
 * sidebar loses it at once, and hands the room over to carol.
 */
import type { Page } from "playwright-core";
import t from "tap";
import { messages, openConversation, problemsOf, screenshot, send, waitSent } from "./helpers-browser.js";
import { registerByApi, registeredPage, signedInPage, startStack } from "./helpers-stack.js";

const stack = await startStack(t);
const ROOM = "#secret-plans";

const { alice, bob } = await stack.guard(async () => {
  const alice = await registeredPage(stack, "alice");
  await registerByApi(stack.base, "bob");
  await registerByApi(stack.base, "carol");
  const bob = await signedInPage(stack, "bob");
  return { alice, bob };
});

const entry = (page: Page, conversation: string) => page.locator(`[data-testid="conversation"][data-conversation="${conversation}"]`);
const member = (page: Page, user: string) => page.locator(`[data-testid="member"][data-user="${user}"]`);

async function invite(page: Page, user: string): Promise<void> {
  await page.fill('[data-testid="invite-input"]', user);
  await page.press('[data-testid="invite-input"]', "Enter");
  await member(page, user).waitFor();
}

t.test("private room > created with the checkbox > locked in the sidebar, owned by its creator", async (t) => {
  await alice.page.check('[data-testid="join-room-private"]');
  await alice.page.fill("#join-room-input", ROOM);
  await alice.page.press("#join-room-input", "Enter");
  await alice.page.waitForFunction((name) => document.getElementById("conversation-title")?.textContent === name, ROOM);
  await entry(alice.page, ROOM).getByTestId("lock").waitFor();
  t.notOk(await alice.page.isChecked('[data-testid="join-room-private"]'), "the checkbox resets");

  await alice.page.getByTestId("members-toggle").click();
  await member(alice.page, "alice").waitFor();
  t.match(await alice.page.getByTestId("members-owner").textContent(), /Owner: alice/);
  t.match(await member(alice.page, "alice").textContent(), /alice.*owner/);

  await bob.page.fill("#join-room-input", ROOM);
  await bob.page.press("#join-room-input", "Enter");
  await bob.page
    .getByTestId("notice")
    .filter({ hasText: /private: ask its owner for an invitation/ })
    .waitFor();
  t.equal(await entry(bob.page, ROOM).count(), 0, "bob cannot join without an invitation");
});

t.test("private room > the owner invites > the room appears for bob with its history; dots show who is online", async (t) => {
  await send(alice.page, "only for the invited");
  await waitSent(alice.page, "only for the invited");
  await invite(alice.page, "bob");
  await invite(alice.page, "carol");
  await member(alice.page, "bob").locator(".presence-dot.online").waitFor();
  t.equal(await member(alice.page, "carol").locator(".presence-dot.online").count(), 0, "carol is offline");

  await entry(bob.page, ROOM).getByTestId("lock").waitFor();
  await bob.page.getByTestId("notice").filter({ hasText: "alice added you to #secret-plans." }).waitFor();
  await openConversation(bob.page, ROOM);
  await waitSent(bob.page, "only for the invited");
  t.pass("bob reads the room's history");

  await send(alice.page, "welcome, bob");
  await waitSent(bob.page, "welcome, bob");
  await alice.page.getByTestId("members-status").filter({ hasText: "Invited carol." }).waitFor();
  await screenshot(alice.page, "private-room", true);
});

t.test("private room > the owner removes bob, then hands over > bob loses it at once; carol owns it", async (t) => {
  await member(alice.page, "bob").getByTestId("member-remove").click();
  await member(alice.page, "bob").waitFor({ state: "detached" });
  await entry(bob.page, ROOM).waitFor({ state: "detached" });
  await bob.page.getByTestId("notice").filter({ hasText: "alice removed you from #secret-plans." }).waitFor();
  t.match(await bob.page.getByTestId("conversation-title").textContent(), /#general/, "bob is back in #general");

  await send(alice.page, "after bob left");
  await waitSent(alice.page, "after bob left");
  await openConversation(bob.page, "#general");
  t.equal(await messages(bob.page, "after bob left").count(), 0, "nothing reaches bob any more");

  await member(alice.page, "carol").getByTestId("member-transfer").click();
  await alice.page.getByTestId("members-owner").filter({ hasText: "Owner: carol" }).waitFor();
  t.ok(await alice.page.getByTestId("invite-form").isHidden(), "alice can no longer invite");
  t.equal(await alice.page.getByTestId("member-remove").count(), 0, "nor remove");
});

t.test("pages > no script errors or alerts", async (t) => {
  for (const page of [alice.page, bob.page]) t.same(problemsOf(page), { errors: [], dialogs: [] });
});
