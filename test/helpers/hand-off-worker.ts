/**
 * A cluster worker for test/unit/hand-off-dispatch.test.ts: for every connection handed to it, it
 * stays busy for BUSY_MS (as a worker in a reconnect storm is), tells the primary what it got and
 * closes the connection. Node acknowledges each handle as it arrives; while the worker is busy, the
 * next one waits unread in its channel, unacknowledged. Asked to, it reports a load of its choosing.
 */
import type { Socket } from "node:net";

const busyMs = Number(process.env.BUSY_MS ?? "0");

process.on("message", (message: { type?: string; tag?: string; connections?: number }, handle: unknown) => {
  // The test plays the worker's load report (worker/sticky-routing.ts): as if it held `connections`.
  if (message?.type === "report") process.send?.({ type: "worker:connections", connections: message.connections, received: 0 });
  if (!handle) return;
  const until = Date.now() + busyMs;
  while (Date.now() < until) {
    // a busy event loop: the next hand-off waits
  }
  process.send?.({ type: "got", tag: message.tag });
  (handle as Socket).destroy();
});
process.send?.({ type: "up" });
