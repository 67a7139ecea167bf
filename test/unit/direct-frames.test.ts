/**
 * With the patch, a broadcast's frame goes straight to ws when engine.io would send it at once,
 * and takes engine.io's way otherwise: behind a packet engine.io holds, to a client that does not
 * read, over polling. Either way every client gets every frame once, in the order sent.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo, Socket as NetSocket } from "node:net";
import { setImmediate as nextTurn } from "node:timers/promises";
import { Server, type Socket } from "socket.io";
import { type Socket as ClientSocket, io as connect } from "socket.io-client";
import t, { type Test } from "tap";
import WebSocket from "ws";
import { sendBroadcastFramesDirectly } from "../../src/realtime/direct-frames.js";

sendBroadcastFramesDirectly();

const ROOM = "room";

/** A server whose every socket joins ROOM; `joined()` resolves with the next n server-side sockets. */
async function roomServer(t: Test): Promise<{ io: Server; url: string; joined(n: number): Promise<Socket[]> }> {
  const http = createServer();
  const io = new Server(http);
  const arrived: Socket[] = [];
  io.on("connection", (socket) => {
    socket.join(ROOM);
    arrived.push(socket);
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  t.teardown(() => {
    io.close();
  });
  const joined = async (n: number): Promise<Socket[]> => {
    while (arrived.length < n) await once(io.sockets, "connection");
    return arrived.splice(0, n);
  };
  return { io, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, joined };
}

/** How many message packets engine.io itself has created for this socket since the call. */
function engineSends(socket: Socket): () => number {
  let count = 0;
  socket.conn.on("packetCreate", (packet: { type: string }) => {
    if (packet.type === "message") count++;
  });
  return () => count;
}

function client(t: Test, url: string, transports: ("websocket" | "polling")[]): ClientSocket {
  const socket = connect(url, { transports, reconnection: false });
  t.teardown(() => {
    socket.close();
  });
  return socket;
}

/** Resolves with the first `n` payloads of `event` the client receives. */
function collect(socket: ClientSocket, event: string, n: number): Promise<unknown[]> {
  const got: unknown[] = [];
  return new Promise((resolve) => {
    socket.on(event, (payload: unknown) => {
      if (got.push(payload) === n) resolve(got);
    });
  });
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await nextTurn();
}

t.test("a broadcast's frame goes to ws directly, and every member gets every frame in order", async (t) => {
  const { io, url, joined } = await roomServer(t);
  const clients = [client(t, url, ["websocket"]), client(t, url, ["websocket"])];
  const sockets = await joined(2);
  const sends = sockets.map(engineSends);
  const received = clients.map((c) => collect(c, "news", 30));
  for (const i of range(30)) io.to(ROOM).emit("news", i);
  t.same(await Promise.all(received), [range(30), range(30)], "both members got 0..29 in order");
  t.same(
    sends.map((count) => count()),
    [0, 0],
    "engine.io created no packet for them",
  );

  const own = collect(clients[0] as ClientSocket, "own", 1);
  (sockets[0] as Socket).emit("own", "just you");
  t.same(await own, ["just you"], "an emit to one socket arrives");
  t.equal(sends[0]?.(), 1, "and takes engine.io's way: it was not encoded for a broadcast");
});

t.test("behind a packet engine.io holds, a broadcast takes engine.io's way and keeps its place", async (t) => {
  const { io, url, joined } = await roomServer(t);
  const [busyClient, idleClient] = [client(t, url, ["websocket"]), client(t, url, ["websocket"])];
  const [busy, idle] = (await joined(2)) as [Socket, Socket];
  const [busySends, idleSends] = [engineSends(busy), engineSends(idle)];
  const busyGot = collect(busyClient, "step", 3);
  const idleGot = collect(idleClient, "step", 2);
  busy.emit("step", "a"); // engine.io's transport is not writable again until this write is done
  io.to(ROOM).emit("step", "b");
  busy.emit("step", "c");
  idle.emit("step", "c");
  t.same(await busyGot, ["a", "b", "c"], "the busy socket got a, b, c in order");
  t.same(await idleGot, ["b", "c"], "the other member got b, c");
  t.equal(busySends(), 3, "engine.io queued the broadcast behind a");
  t.equal(idleSends(), 1, "the member with nothing queued got it directly");
});

t.test("a client that does not read has its broadcasts queued by engine.io, and then gets them all in order", async (t) => {
  const { io, url, joined } = await roomServer(t);
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
  t.teardown(() => ws.terminate());
  const frames: string[] = [];
  ws.on("message", (data) => frames.push(String(data)));
  await until(() => frames.length > 0); // engine.io's open packet
  ws.send("40");
  const [socket] = (await joined(1)) as [Socket];
  const sends = engineSends(socket);
  const connection = (socket.conn as unknown as { transport: { socket: { _socket: NetSocket } } }).transport.socket._socket;
  const full = (): boolean => connection.writableLength >= connection.writableHighWaterMark;

  ws.pause();
  const payload = "x".repeat(256 * 1024);
  let sent = 0;
  // Until the kernel's buffers are full and the connection holds its high-water mark (about 10 MB here).
  while (!full() && sent < 400) {
    io.to(ROOM).emit("big", sent++, payload);
    await nextTurn();
  }
  t.ok(full(), `the connection holds its high-water mark after ${sent} frames`);
  t.equal(sends(), 0, "until then every frame went to ws directly");
  for (const _ of range(5)) io.to(ROOM).emit("big", sent++, payload);
  t.equal(sends(), 5, "past it engine.io takes them");
  t.ok((socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length > 0, "and queues them until the client reads");

  ws.resume();
  const big = (): number[] => frames.filter((f) => f.startsWith('42["big"')).map((f) => JSON.parse(f.slice(2))[1] as number);
  await until(() => big().length >= sent);
  t.same(big(), range(sent), "every frame arrived once, in order");
});

t.test("over polling, broadcasts take engine.io's way and arrive in order", async (t) => {
  const { io, url, joined } = await roomServer(t);
  const polling = client(t, url, ["polling"]);
  const [socket] = (await joined(1)) as [Socket];
  const sends = engineSends(socket);
  const received = collect(polling, "news", 20);
  for (const i of range(20)) io.to(ROOM).emit("news", i);
  t.same(await received, range(20), "0..19 in order");
  t.equal(sends(), 20, "each one through engine.io");
});
