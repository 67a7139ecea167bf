import { Socket } from "node:net";

/**
 * ws writes every frame as it comes, so each costs its own `writev`, and those system calls take
 * nearly half of a worker's time under load (docs/performance.md, B2). Yet a connection is often
 * written several frames in a row: engine.io queues the packets that come while a write is in
 * flight (the messages of a feed batch for one socket, a message's ack and its delivery to the
 * sender's socket) and then sends each as its own frame.
 *
 * So a batched connection is corked at its first write in a turn of the event loop and uncorked
 * once the turn's I/O callbacks have run (setImmediate runs right after them): what was written
 * meanwhile leaves in one `writev`. A write completes with that `writev`, so what engine.io queued
 * behind it leaves together in the next turn, not one frame at a time (and socket.io drops a
 * volatile packet, a typing indicator, that comes meanwhile). A connection's own cork
 * (ws corks around each frame) nests inside this one. `destroy()` throws away what is still
 * corked, and engine.io writes a refused upgrade's HTTP answer and destroys the socket at once:
 * so a held connection is uncorked before it is destroyed, and loses nothing it would have sent
 * unbatched.
 */
const corked = new Set<Socket>();
const write = Socket.prototype.write;
const destroy = Socket.prototype.destroy;

function uncorkAll(): void {
  const sockets = [...corked];
  corked.clear();
  for (const socket of sockets) socket.uncork();
}

function batchingWrite(this: Socket, ...args: Parameters<Socket["write"]>): boolean {
  if (!corked.has(this)) {
    if (corked.size === 0) setImmediate(uncorkAll);
    corked.add(this);
    this.cork();
  }
  return write.apply(this, args);
}

function flushingDestroy(this: Socket, error?: Error): Socket {
  if (corked.delete(this)) this.uncork();
  return destroy.call(this, error);
}

/** From now on, what is written to `socket` in one turn of the event loop leaves in one system call. */
export function batchWrites(socket: Socket): void {
  socket.write = batchingWrite as Socket["write"];
  socket.destroy = flushingDestroy;
}
