/**
 * Browser e2e of editing and deleting one's own messages: Edit in the message's tools and Up-arrow
 * in the empty composer open an inline editor (Enter saves, Esc cancels); Delete asks first; the
 * other user's page, and a second device of the author, show the edit with "(edited)" and the
 * deletion as a tombstone, live and after a reload.
 */
import type { Page } from "playwright-core";
import t from "tap";
import { messages, problemsOf, screenshot, send, waitConnected, waitSent } from "./helpers-browser.js";
import { registerByApi, registeredPage, signedInPage, startStack } from "./helpers-stack.js";

const stack = await startStack(t);

const { alice, aliceElsewhere, bob } = await stack.guard(async () => {
  const alice = await registeredPage(stack, "alice");
  const aliceElsewhere = await signedInPage(stack, "alice");
  await registerByApi(stack.base, "bob");
  const bob = await signedInPage(stack, "bob");
  return { alice, aliceElsewhere, bob };
});
const pages = [alice.page, aliceElsewhere.page, bob.page];

const edited = (page: Page, text: string) => messages(page, text).filter({ has: page.getByTestId("message-edited") });
const tombstones = (page: Page) => page.locator('[data-testid="message"].deleted');

t.test("edit > Edit on one's own message > saved with Enter; every page shows it with (edited)", async (t) => {
  await send(alice.page, "teh plan is ready");
  for (const page of pages) await waitSent(page, "teh plan is ready");
  t.equal(await messages(bob.page, "teh plan is ready").getByTestId("edit-message").count(), 0, "no Edit on another user's message");

  const mine = messages(alice.page, "teh plan is ready");
  await mine.hover();
  await mine.getByTestId("edit-message").click();
  const input = alice.page.getByTestId("edit-input");
  t.equal(await input.inputValue(), "teh plan is ready", "the editor starts from the text");
  await input.fill("the plan is ready");
  await input.press("Enter");
  for (const page of pages) await edited(page, "the plan is ready").waitFor();
  t.equal(await messages(bob.page, "teh plan is ready").count(), 0, "the old text is gone");
  t.equal(await alice.page.getByTestId("edit-input").count(), 0, "the editor closed");
});

t.test("edit > Up-arrow in the empty composer > edits the last own message; Esc cancels", async (t) => {
  await send(alice.page, "meeting at 3");
  await waitSent(alice.page, "meeting at 3");
  await alice.page.press("#text", "ArrowUp");
  const input = alice.page.getByTestId("edit-input");
  t.equal(await input.inputValue(), "meeting at 3");
  await input.fill("meeting at 4");
  await input.press("Escape");
  await input.waitFor({ state: "detached" });
  t.equal(await messages(alice.page, "meeting at 3").count(), 1, "Esc keeps the text");
  t.ok(await alice.page.locator("#text").evaluate((el) => el === document.activeElement), "the composer has the focus back");

  await alice.page.press("#text", "ArrowUp");
  await input.fill("meeting at 4");
  await input.press("Enter");
  for (const page of pages) await edited(page, "meeting at 4").waitFor();
});

t.test("delete > Delete, then confirm > a tombstone on every page; Cancel keeps the message", async (t) => {
  await send(alice.page, "wrong room, sorry");
  for (const page of pages) await waitSent(page, "wrong room, sorry");
  const mine = messages(alice.page, "wrong room, sorry");
  await mine.hover();
  await mine.getByTestId("delete-message").click();
  await alice.page.getByTestId("delete-cancel").click();
  t.equal(await messages(alice.page, "wrong room, sorry").count(), 1, "Cancel keeps it");

  await mine.hover();
  await mine.getByTestId("delete-message").click();
  await alice.page.getByTestId("delete-confirm").click();
  for (const page of pages) {
    await tombstones(page).filter({ hasText: "message deleted" }).waitFor();
    t.equal(await messages(page, "wrong room, sorry").count(), 0);
  }
  t.equal(await tombstones(alice.page).getByTestId("edit-message").count(), 0, "a deleted message cannot be edited");
  await screenshot(bob.page, "edit-delete-other-user");
});

t.test("reload > after edits and a deletion > the page shows every message as it is now", async (t) => {
  await bob.page.reload();
  await waitConnected(bob.page);
  await edited(bob.page, "the plan is ready").waitFor();
  await edited(bob.page, "meeting at 4").waitFor();
  await tombstones(bob.page).filter({ hasText: "message deleted" }).waitFor();
  t.equal(await messages(bob.page, "wrong room, sorry").count(), 0);
  t.equal(await messages(bob.page, "teh plan is ready").count(), 0);
});

t.test("offline > an edit made while a page is away > shown once it is back", async (t) => {
  await bob.context.setOffline(true);
  await bob.page.waitForFunction(() => document.getElementById("connection")?.dataset.state !== "connected");
  await alice.page.press("#text", "ArrowUp");
  const input = alice.page.getByTestId("edit-input");
  await input.fill("meeting at 5");
  await screenshot(alice.page, "edit-delete", true);
  await input.press("Enter");
  await edited(alice.page, "meeting at 5").waitFor();
  await bob.context.setOffline(false);
  await waitConnected(bob.page);
  await edited(bob.page, "meeting at 5").waitFor();
  t.equal(await messages(bob.page, "meeting at 4").count(), 0);
});

t.test("pages > no script errors or alerts", async (t) => {
  for (const page of pages) t.same(problemsOf(page), { errors: [], dialogs: [] });
});
