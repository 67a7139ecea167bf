import type { Socket as NetSocket } from "node:net";
import { socketIoLibraries } from "./libraries.js";

/**
 * socket.io encodes a broadcast once, and its adapter builds the WebSocket frame once too
 * (`wsPreEncodedFrame`). Yet every recipient still goes through engine.io's whole send: a packet
 * object and a "packetCreate" event, the packet buffer, two "flush" and two "drain" events, a
 * write callback and its tick, and the "ready" that follows, all to end in the same
 * `sendFrame(frame)` of ws. In a room of 1,000 that was about a fifth of the worker's CPU per
 * delivery (docs/performance.md, B1).
 *
 * So when engine.io would write a broadcast's frame at once, it goes to ws directly: the socket is
 * open on the websocket transport, engine.io holds no packet of its own for it, and its
 * connection holds less than its high-water mark (write-batching.ts). Otherwise the packet takes
 * engine.io's way, behind what is queued, so a connection's frames keep their order, and a client
 * that does not read has its broadcasts queued by engine.io as before. Only frames that need no
 * callback take the short way: a packet with a send callback must wait for its write.
 * test/unit/direct-frames.test.ts fails if an upgrade changes what this relies on.
 */

/** What the patch reads on engine.io's Socket (build/socket.js) and its websocket transport; private in their typings. */
interface EngineSocketInternals {
  readyState: string;
  writeBuffer: unknown[];
  transport: {
    name: string;
    writable: boolean;
    perMessageDeflate: unknown;
    socket: { _sender: { sendFrame(frame: Buffer[]): void }; _socket: NetSocket };
  };
  sendPacket(this: EngineSocketInternals, type: string, data?: unknown, options?: unknown, callback?: unknown): void;
}

/** The frame socket.io's adapter built for a broadcast, if it did. */
function preEncodedFrame(options: unknown): Buffer[] | undefined {
  return typeof options === "object" && options !== null ? (options as { wsPreEncodedFrame?: Buffer[] }).wsPreEncodedFrame : undefined;
}

/** Whether engine.io would hand a packet for `socket` to ws right away, with nothing queued before it. */
function writesAtOnce(socket: EngineSocketInternals): boolean {
  const { transport } = socket;
  if (socket.readyState !== "open" || transport.name !== "websocket" || !transport.writable || transport.perMessageDeflate) return false;
  const connection = transport.socket._socket;
  return socket.writeBuffer.length === 0 && connection.writableLength < connection.writableHighWaterMark;
}

let applied = false;

/** From now on a broadcast's frame goes straight to ws whenever engine.io would send it at once. */
export function sendBroadcastFramesDirectly(): void {
  if (applied) return;
  applied = true;
  const prototype = socketIoLibraries().EngineSocket.prototype as EngineSocketInternals;
  const sendPacket = prototype.sendPacket;
  prototype.sendPacket = function (type, data, options, callback) {
    const frame = preEncodedFrame(options);
    if (frame !== undefined && type === "message" && callback === undefined && writesAtOnce(this)) {
      this.transport.socket._sender.sendFrame(frame);
    } else {
      sendPacket.call(this, type, data, options, callback);
    }
  };
}
