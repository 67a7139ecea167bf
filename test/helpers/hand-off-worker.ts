/**
 * A cluster worker for test/unit/hand-off-dispatch.test.ts: for every connection handed to it, it
 * stays busy for BUSY_MS (as a worker in a reconnect storm is), tells the primary what it got,
 * closes the connection, and only then acknowledges it (`acknowledgeHandOffs`).
 */
import type { Socket } from "node:net";
import { acknowledgeHandOffs } from "../../src/primary/hand-off.js";

const busyMs = Number(process.env.BUSY_MS ?? "0");

process.on("message", (message: { tag?: string }, handle: unknown) => {
  if (!handle) return;
  const until = Date.now() + busyMs;
  while (Date.now() < until) {
    // a busy event loop: the next hand-off waits
  }
  process.send?.({ type: "got", tag: message.tag });
  (handle as Socket).destroy();
});
acknowledgeHandOffs();
process.send?.({ type: "up" });
