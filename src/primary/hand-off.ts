import type { Server, Socket } from "node:net";

/** The libuv stream behind a net.Socket (`socket._handle`): Node internals, unchanged since Node 0.x. */
interface StreamHandle {
  readStop(): number;
}

/**
 * @socket.io/sticky reads the first chunk of each connection in the primary to choose a worker,
 * then sends the socket's handle to it. Node closes the primary's copy of the handle only when the
 * worker acknowledges it, and until then the primary keeps reading the connection and throws away
 * what it reads (child_process turns the handle's `onread` into a no-op). A websocket client sends
 * socket.io's CONNECT the moment engine.io's OPEN arrives: when the worker answers before the busy
 * primary has seen the acknowledgement, that CONNECT is lost and the client waits for its handshake
 * timeout (8 s) before it retries: in the bench smoke test, 12 of 64 worker kills left a client hanging so.
 *
 * So the primary stops reading a connection as soon as it has the chunk that sticky hands over. A
 * request with a body stays in the primary (sticky forwards its chunks over IPC) and keeps reading.
 * Call after `setupMaster`: sticky drops every "data" listener a connection already has.
 */
export function stopReadingAtHandOff(server: Server): void {
  server.on("connection", (socket: Socket) => {
    socket.prependOnceListener("data", (chunk: Buffer) => {
      if (staysInPrimary(chunk)) return;
      const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
      // Only libuv stops: Node still believes it reads, so it does not start again while the handle
      // waits in the queue for the worker (a worker acknowledges one handle at a time).
      handle?.readStop();
    });
  });
}

/** Sticky's own test: a request that may span several chunks (it has a body) is not handed over. */
function staysInPrimary(chunk: Buffer): boolean {
  const header = chunk.subarray(0, chunk.indexOf("\r\n\r\n")).toString("latin1").toLowerCase();
  return header.includes("content-length:") || header.includes("transfer-encoding:");
}
