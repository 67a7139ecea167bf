/**
 * The primary stops reading a connection once it has the chunk it hands to a worker: bytes the
 * client sends after that belong to the worker, and a primary that read them would drop them.
 */
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import t from "tap";
import { stopReadingAtHandOff } from "../../src/primary/hand-off.js";

/** A TCP server with the hand-off rule, counting the chunks the primary reads on each connection. */
async function primaryReading(): Promise<{ port: number; chunks: Buffer[]; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const server = createServer();
  stopReadingAtHandOff(server);
  // Stands in for sticky's own "data" listener, which is registered before the rule's runs.
  server.on("connection", (socket: Socket) => socket.on("data", (chunk: Buffer) => chunks.push(chunk)));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => sockets.add(socket));
  return {
    port: (server.address() as AddressInfo).port,
    chunks,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function exchange(port: number, first: string, second: string): Promise<void> {
  const client = connect(port, "127.0.0.1");
  await once(client, "connect");
  client.write(first);
  await settle(100);
  client.write(second);
  await settle(200);
  client.destroy();
}

t.test("hand-off > a websocket upgrade > the primary reads its first chunk only", async (t) => {
  const primary = await primaryReading();
  t.teardown(() => primary.close());
  await exchange(primary.port, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: chat\r\n\r\n", "40");
  t.equal(primary.chunks.length, 1, "the bytes sent after the request are left to the worker");
});

t.test("hand-off > a request with a body > the primary keeps reading (sticky forwards the body)", async (t) => {
  const primary = await primaryReading();
  t.teardown(() => primary.close());
  await exchange(primary.port, "POST /login HTTP/1.1\r\nHost: chat\r\nContent-Length: 2\r\n\r\n", "{}");
  t.equal(primary.chunks.length, 2, "the body reaches the primary");
});
