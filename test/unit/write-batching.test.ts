/**
 * A batched connection holds what is written to it during one turn of the event loop and sends it
 * all at once when the turn's callbacks are done: nothing is lost, reordered or left behind. A
 * write is reported done once held, unless the connection already holds its high-water mark.
 */
import { once } from "node:events";
import { createServer, Socket } from "node:net";
import { setImmediate as nextTurn } from "node:timers/promises";
import t, { type Test } from "tap";
import { batchWrites } from "../../src/realtime/write-batching.js";

/** A connected pair over loopback: `sender` is batched, `received()` is what its `peer` has read. */
async function pair(t: Test): Promise<{ sender: Socket; peer: Socket; received: () => string; ended: Promise<unknown> }> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const sender = new Socket();
  sender.connect(port, "127.0.0.1");
  await once(sender, "connect");
  const [peer] = await accepted;
  let text = "";
  peer.setEncoding("utf8").on("data", (chunk: string) => {
    text += chunk;
  });
  t.teardown(() => {
    sender.destroy();
    peer.destroy();
    server.close();
  });
  batchWrites(sender);
  return { sender, peer, received: () => text, ended: once(peer, "end") };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await nextTurn();
}

t.test("writes of one turn are held together and sent when the turn is done", async (t) => {
  const { sender, received } = await pair(t);
  sender.write("a");
  sender.write("bc");
  sender.write(Buffer.from("d"));
  t.equal(sender.writableCorked, 1, "corked at the first write");
  t.equal(sender.writableLength, 4, "nothing handed to the kernel yet");
  await nextTurn();
  t.equal(sender.writableCorked, 0, "uncorked after the turn");
  t.equal(sender.writableLength, 0, "all of it handed over at once");
  await until(() => received().length === 4);
  t.equal(received(), "abcd", "in the order written");
});

t.test("a frame's own cork nests inside the turn's", async (t) => {
  const { sender, received } = await pair(t);
  sender.cork();
  sender.write("head");
  sender.write("body");
  sender.uncork();
  t.equal(sender.writableLength, 8, "still held after the frame's uncork");
  await until(() => received() === "headbody");
  t.pass("sent after the turn");
});

t.test("every connection written in a turn is sent, and so is a write of a later turn", async (t) => {
  const first = await pair(t);
  const second = await pair(t);
  first.sender.write("one");
  second.sender.write("two");
  await nextTurn();
  first.sender.write(" more");
  await until(() => first.received() === "one more" && second.received() === "two");
  t.pass("nothing left behind");
});

t.test("ending a connection sends what is held first", async (t) => {
  const { sender, received, ended } = await pair(t);
  sender.write("last words");
  sender.end();
  await ended;
  t.equal(received(), "last words");
});

t.test("destroying a connection right after a write still sends what was written", async (t) => {
  const { sender, received, ended } = await pair(t);
  sender.write("HTTP/1.1 400 Bad Request\r\n\r\n");
  sender.destroy();
  await ended;
  t.equal(received(), "HTTP/1.1 400 Bad Request\r\n\r\n", "as it would have been unbatched");
});

t.test("a write is reported done once held, so what its callback writes joins the same turn", async (t) => {
  const { sender, received } = await pair(t);
  // engine.io sends a socket's next packet from the last write's callback.
  sender.write("ack", () => sender.write(" echo"));
  await new Promise(process.nextTick);
  t.equal(sender.writableLength, 8, "the second write is held with the first");
  t.equal(sender.writableCorked, 1, "before the turn is done");
  await until(() => received() === "ack echo");
  t.pass("both sent");
});

t.test("past its high-water mark a connection reports a write done only when the kernel has it", async (t) => {
  const { sender, received } = await pair(t);
  const bulk = "x".repeat(sender.writableHighWaterMark);
  sender.write(bulk);
  let done = false;
  sender.write("!", () => {
    done = true;
  });
  await new Promise(process.nextTick);
  t.equal(done, false, "not while it is held");
  await until(() => done);
  t.equal(sender.writableCorked, 0, "after the turn's writev");
  await until(() => received().length === bulk.length + 1);
  t.ok(received().endsWith("!"), "sent after the bulk");
});

t.test("a connection reset after a write was reported done still closes, with the error", async (t) => {
  const { sender, peer } = await pair(t);
  const errors: string[] = [];
  sender.on("error", (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
  let reported: unknown = "not yet";
  sender.write("held", (error?: Error | null) => {
    reported = error;
  });
  const closed = new Promise((resolve) => sender.once("close", resolve));
  peer.resetAndDestroy();
  await closed;
  t.equal(reported, undefined, "the write was reported done");
  t.ok(errors.length > 0, `the connection failed with ${errors.join(", ")}`);
});
