/**
 * Browser e2e: failures. A worker killed with SIGKILL under an open page, and the whole server
 * stopped and started again on the same port and Redis. The page must say what is happening,
 * reconnect by itself, and deliver what was typed meanwhile exactly once.
 */
import t, { type Test } from "tap";
import { messages, recordBanner, screenshot, send, socketInstance, waitConnected, waitSent, workerPid } from "./helpers-browser.js";
import { loginOnOtherWorker, registerByApi, registeredPage, startStack } from "./helpers-stack.js";

const stack = await startStack(t);

const { alice, bob } = await stack.guard(async () => {
  const alice = await registeredPage(stack, "alice");
  await registerByApi(stack.base, "bob");
  const bob = await loginOnOtherWorker(stack, "bob", await socketInstance(alice.page));
  return { alice, bob };
});

/** The message is shown exactly once on both pages, also after bob reloads (stored once). */
async function deliveredOnce(t: Test, text: string): Promise<void> {
  await waitSent(alice.page, text);
  await waitSent(bob.page, text);
  // Long enough for a duplicate (a resend, a replay) to arrive if there were one.
  await alice.page.waitForTimeout(1_000);
  t.equal(await messages(alice.page, text).count(), 1, `"${text}" once for its sender`);
  t.equal(await messages(bob.page, text).count(), 1, `"${text}" once for the other user`);
}

t.test("worker crash > SIGKILL of the page's worker > reconnects elsewhere, pending and missed messages arrive once", async (t) => {
  const killed = await socketInstance(alice.page);
  const states = await recordBanner(alice.page);
  // Hold the page's reconnection (its handshake is HTTP long-polling first) so the message is
  // typed while the page is certainly disconnected; released below.
  await alice.context.route("**/socket.io/**", (route) => route.abort());

  process.kill(workerPid(killed), "SIGKILL");
  await alice.page.waitForSelector('#connection:is([data-state="reconnecting"], [data-state="offline"])', { state: "attached" });
  await send(alice.page, "typed while the worker was down");
  const pending = messages(alice.page, "typed while the worker was down");
  t.equal(await pending.getAttribute("data-state"), "pending", "shown as pending");
  await screenshot(alice.page, "chat-reconnecting");
  // Meanwhile bob, on the surviving worker, talks: alice must catch up on it when she is back.
  await send(bob.page, "said while alice was away");
  await waitSent(bob.page, "said while alice was away");

  await alice.context.unroute("**/socket.io/**");
  await waitConnected(alice.page, 30_000);
  const now = await socketInstance(alice.page);
  t.not(now, killed, `socket moved from ${killed} to ${now}`);
  const sequence = await states();
  t.ok(sequence.indexOf("reconnecting") >= 0, `banner said reconnecting: ${sequence.join(" → ")}`);
  t.equal(sequence.at(-1), "connected", "banner ends connected");

  await deliveredOnce(t, "typed while the worker was down");
  await deliveredOnce(t, "said while alice was away");
  await bob.page.reload();
  await waitConnected(bob.page);
  await waitSent(bob.page, "typed while the worker was down");
  t.equal(await messages(bob.page, "typed while the worker was down").count(), 1, "stored once");

  await send(bob.page, "and bob can still answer");
  await deliveredOnce(t, "and bob can still answer");
});

t.test("server restart > SIGTERM, then a new server on the same port > pages reconnect on their own, still signed in", async (t) => {
  const aliceStates = await recordBanner(alice.page);
  const bobStates = await recordBanner(bob.page);
  const stopping = stack.server.stop();
  await alice.page.waitForSelector('#connection:not([data-state="connected"])', { state: "attached" });
  await bob.page.waitForSelector('#connection:not([data-state="connected"])', { state: "attached" });
  await stopping;

  await send(alice.page, "typed while the server was down");
  t.equal(await messages(alice.page, "typed while the server was down").getAttribute("data-state"), "pending");
  await screenshot(alice.page, "chat-server-down");

  await stack.restartServer();
  // The client's own backoff (up to 8 s between attempts) brings it back; nothing is clicked.
  await waitConnected(alice.page, 45_000);
  await waitConnected(bob.page, 45_000);
  for (const [name, page] of [
    ["alice", alice.page],
    ["bob", bob.page],
  ] as const) {
    t.equal(new URL(page.url()).pathname, "/", `${name} still on the chat`);
    t.equal(await page.textContent("#me"), name, `${name} still signed in`);
  }
  t.equal((await aliceStates()).at(-1), "connected");
  t.equal((await bobStates()).at(-1), "connected");

  await deliveredOnce(t, "typed while the server was down");
  await send(bob.page, "after the restart");
  await deliveredOnce(t, "after the restart");
  await screenshot(bob.page, "chat-after-restart");
});
