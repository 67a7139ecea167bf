import { socketIoLibraries } from "./libraries.js";

/**
 * ws and engine.io replace some of a connection's objects on every message: ws starts a new
 * array for the fragments of the next incoming message and keeps the last frame's mask as a view
 * of the chunk it was read from; engine.io starts a new array for the packets of the next flush.
 * Each lives until that connection's next message, tens of milliseconds under load, long enough
 * for V8 to promote it to the old generation. Once replaced it is garbage, but only a full
 * collection frees it, and until then what it points to is kept too: the young objects the array
 * last held (a message's buffers, its packets and their payloads) are promoted through it, and
 * the mask keeps the chunk's memory. At 15,000 msg/s with rooms of 2 that was nearly all of a
 * worker's promotion, about 500 KB per scavenge, and a full collection every 3 to 4 s
 * (docs/performance.md, B2).
 *
 * So each connection keeps its first arrays and empties them instead, where the library no
 * longer needs their contents, and each mask is copied out of its chunk (copyMasks). The patches
 * wrap the libraries' own methods, which still do all of the work; test/unit/reused-arrays.test.ts
 * fails if an upgrade changes what they rely on.
 */

/** What the patch touches on ws's Receiver (lib/receiver.js); not part of ws's typings. */
interface ReceiverInternals {
  _fragments: Buffer[];
  _binaryType: string;
  _mask: Buffer | undefined;
  _bufferedBytes: number;
  _payloadLength: number;
  dataMessage(this: ReceiverInternals, ...args: unknown[]): void;
  getMask(this: ReceiverInternals): void;
}

/** What the patch touches on engine.io's Socket (build/socket.js); private in its typings. */
interface EngineSocketInternals {
  writeBuffer: unknown[];
  transport: { name: string };
  flush(this: EngineSocketInternals): void;
}

/** The names of `T`'s methods, and of its array fields. */
type MethodOf<T> = { [K in keyof T]: T[K] extends (...args: never[]) => void ? K : never }[keyof T];
type ArrayOf<T> = { [K in keyof T]: T[K] extends unknown[] ? K : never }[keyof T];

/**
 * Wraps `method` of `target`'s instances: when it has replaced `field` with a fresh empty array
 * and the instance allows it (`reusable`), the instance gets its old array back, emptied.
 */
function keepArray<T>(target: { prototype: T }, method: MethodOf<T>, field: ArrayOf<T>, reusable: (self: T) => boolean): void {
  const prototype = target.prototype as Record<keyof T, unknown>;
  const original = prototype[method] as (this: T, ...args: unknown[]) => void;
  prototype[method] = function (this: T, ...args: unknown[]) {
    const kept = this[field] as unknown[];
    original.apply(this, args);
    const fresh = this[field] as unknown[];
    if (fresh !== kept && fresh.length === 0 && reusable(this)) {
      kept.length = 0;
      (this as Record<keyof T, unknown>)[field] = kept;
    }
  };
}

/** The mask of whichever frame is being unmasked right now, for every connection of the process. */
const currentMask = Buffer.alloc(4);

/**
 * A frame's mask is needed only until its payload is unmasked. When the payload is already
 * buffered, ws unmasks it in the same call (getData right after getMask), so one mask for the
 * whole process serves, and an idle connection keeps none of its own: a Buffer and its
 * ArrayBuffer, about 0.3 KB (B4). A payload still on its way gets a copy of its own.
 */
function copyMasks(receiver: { prototype: ReceiverInternals }): void {
  const getMask = receiver.prototype.getMask;
  receiver.prototype.getMask = function () {
    const before = this._mask;
    getMask.call(this);
    const view = this._mask;
    if (view === before || view === undefined) return; // the mask has not arrived yet
    const mask = this._bufferedBytes >= this._payloadLength ? currentMask : Buffer.alloc(4);
    mask.set(view);
    this._mask = mask;
  };
}

let applied = false;

/** From now on every ws and engine.io connection of this process keeps its message arrays, and no mask. */
export function reuseConnectionArrays(): void {
  if (applied) return;
  applied = true;
  const libraries = socketIoLibraries();
  const Receiver = libraries.Receiver as { prototype: ReceiverInternals };
  const Socket = libraries.EngineSocket as { prototype: EngineSocketInternals };
  // ws starts a new array once a message is complete and its data concatenated out of the old
  // one, unless the fragments array itself is the data (binaryType "fragments").
  keepArray(Receiver, "dataMessage", "_fragments", (receiver) => receiver._binaryType !== "fragments");
  copyMasks(Receiver);
  // The websocket transport has encoded and written every packet by the time flush returns.
  // Polling connections are few and short-lived (clients upgrade): they keep engine.io's way.
  // (engine.io's "flush" events hand their listeners this array; the server has none.)
  keepArray(Socket, "flush", "writeBuffer", (socket) => socket.transport.name === "websocket");
}
