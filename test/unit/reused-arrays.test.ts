/**
 * With the patch, a connection keeps one fragments array (ws) and one packet buffer (engine.io)
 * for its whole life, and every message still arrives whole and in order: plain, fragmented,
 * binary, acked, and over polling.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo, Socket as NetSocket } from "node:net";
import { Server, type Socket } from "socket.io";
import { type Socket as ClientSocket, io as connect } from "socket.io-client";
import t, { type Test } from "tap";
import WebSocket from "ws";
import { reuseConnectionArrays } from "../../src/realtime/reused-arrays.js";

reuseConnectionArrays();

/** The library internals the patch keeps, as seen on a server-side socket. */
function internals(socket: Socket): { fragments: unknown; mask: Buffer | undefined; writeBuffer: unknown } {
  const engine = socket.conn as unknown as {
    writeBuffer: unknown[];
    transport: { socket?: { _receiver?: { _fragments: unknown; _mask?: Buffer } } };
  };
  const receiver = engine.transport.socket?._receiver;
  return { fragments: receiver?._fragments, mask: receiver?._mask, writeBuffer: engine.writeBuffer };
}

/** An echo server: `echo` answers its payload through the ack, `relay` emits it back as `relayed`. */
async function echoServer(t: Test): Promise<{ url: string; sockets: Promise<Socket> }> {
  const http = createServer();
  const io = new Server(http);
  const sockets = once(io, "connection").then(([socket]) => socket as Socket);
  io.on("connection", (socket) => {
    socket.on("echo", (payload: unknown, ack: (reply: unknown) => void) => ack(payload));
    socket.on("relay", (payload: unknown) => socket.emit("relayed", payload));
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  t.teardown(() => {
    io.close();
  });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, sockets };
}

function client(t: Test, url: string, transports: ("websocket" | "polling")[]): ClientSocket {
  const socket = connect(url, { transports, reconnection: false });
  t.teardown(() => {
    socket.close();
  });
  return socket;
}

/** A raw engine.io websocket connection, past socket.io's CONNECT, and the frames it receives. */
async function rawConnection(t: Test, url: string): Promise<{ ws: WebSocket; next(prefix: string): Promise<string> }> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
  t.teardown(() => ws.terminate());
  const closed = once(ws, "close").then(() => Promise.reject(new Error("the server closed the connection")));
  closed.catch(() => undefined);
  const frames: string[] = [];
  ws.on("message", (data) => frames.push(String(data)));
  const next = async (prefix: string): Promise<string> => {
    for (;;) {
      const found = frames.findIndex((frame) => frame.startsWith(prefix));
      if (found >= 0) return frames.splice(found, 1)[0] as string;
      // A frame the server could not read closes the connection: fail then, not at the timeout.
      await Promise.race([once(ws, "message"), closed]);
    }
  };
  await next("0{"); // engine.io open
  ws.send("40");
  await next("40");
  return { ws, next };
}

t.test("a websocket connection keeps its arrays, and acked and relayed messages arrive whole and in order", async (t) => {
  const { url, sockets } = await echoServer(t);
  const socket = client(t, url, ["websocket"]);
  const server = await sockets;
  await socket.emitWithAck("echo", "first");
  const kept = internals(server);
  t.ok(Array.isArray(kept.fragments), "ws's fragments array is where the patch expects it");
  t.ok(Buffer.isBuffer(kept.mask), "and so is the last frame's mask");
  t.ok(Array.isArray(kept.writeBuffer), "engine.io's packet buffer is where the patch expects it");

  const relayed: unknown[] = [];
  let allRelayed: () => void = () => {};
  const relayedAll = new Promise<void>((resolve) => {
    allRelayed = resolve;
  });
  socket.on("relayed", (payload: unknown) => {
    if (relayed.push(payload) === 50) allRelayed();
  });
  const texts = Array.from({ length: 50 }, (_, i) => `message ${i} ${"x".repeat(i * 40)}`);
  const echoes = await Promise.all(texts.map((text) => socket.emitWithAck("echo", { text })));
  t.same(
    echoes,
    texts.map((text) => ({ text })),
    "every ack carries its own payload",
  );
  for (const text of texts) socket.emit("relay", text);
  const binary = Buffer.from([0, 1, 2, 254, 255]);
  const [echoed] = (await socket.emitWithAck("echo", [binary])) as [Buffer];
  t.same([...Buffer.from(echoed)], [...binary], "a binary attachment arrives intact");
  await relayedAll;
  t.same(relayed, texts, "relayed in the order sent");

  const after = internals(server);
  t.equal(after.fragments, kept.fragments, "the same fragments array after 100 messages");
  t.equal(after.mask, kept.mask, "the same mask buffer");
  t.equal(after.mask?.buffer.byteLength, 4, "which holds the mask, not the chunk it came in");
  const other = client(t, url, ["websocket"]);
  await other.emitWithAck("echo", "hello");
  t.equal(internals([...server.nsp.sockets.values()].find((s) => s !== server) as Socket).mask, kept.mask, "another connection shares it");
  t.equal(after.writeBuffer, kept.writeBuffer, "the same packet buffer after 100 flushes");
  t.same(after.fragments, [], "and it holds no message");
  t.same(after.writeBuffer, [], "and no packet");
});

t.test("a message split into WebSocket fragments is reassembled", async (t) => {
  const { url, sockets } = await echoServer(t);
  const { ws, next } = await rawConnection(t, url);
  await sockets;
  for (const id of [1, 2]) {
    // `42<ack id>["echo","…"]`, in three frames: a continuation must join the text it continues.
    ws.send(`42${id}["echo","part one, `, { fin: false });
    ws.send("part two, ", { fin: false });
    ws.send(`part three ${id}"]`, { fin: true });
    t.equal(await next(`43${id}`), `43${id}["part one, part two, part three ${id}"]`, `fragmented message ${id} acked whole`);
  }
});

t.test("a frame whose payload arrives after its mask is unmasked with its own mask", async (t) => {
  const { url, sockets } = await echoServer(t);
  const slow = await rawConnection(t, url);
  const fast = await rawConnection(t, url);
  await sockets;
  const payload = Buffer.from('421["echo","split from its mask"]');
  const mask = Buffer.from([0x5a, 0x0f, 0xf0, 0xa5]);
  const masked = payload.map((byte, i) => byte ^ (mask[i % 4] as number));
  // A final text frame, masked, short length: header and mask now, the payload later.
  const tcp = (slow.ws as unknown as { _socket: NetSocket })._socket;
  tcp.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask]));
  await new Promise((resolve) => setTimeout(resolve, 50));
  // Meanwhile another connection's frame is unmasked with its own mask.
  fast.ws.send('422["echo","in between"]');
  t.equal(await fast.next("432"), '432["in between"]', "the other connection's message is acked");
  tcp.write(masked);
  t.equal(await slow.next("431"), '431["split from its mask"]', "the split frame is unmasked with its own mask");
});

t.test("a polling connection still works (it keeps engine.io's own buffers)", async (t) => {
  const { url, sockets } = await echoServer(t);
  const socket = client(t, url, ["polling"]);
  await sockets;
  const texts = ["one", "two", "three"];
  const echoes = await Promise.all(texts.map((text) => socket.emitWithAck("echo", text)));
  t.same(echoes, texts, "acked over polling");
});
