import { Socket } from "node:net";

/**
 * ws writes every frame as it comes, so each costs its own `writev`, and those system calls take
 * nearly half of a worker's time under load (docs/performance.md, B2). Yet frames for one connection
 * often come in the same turn of the event loop: a message's ack and its delivery to the sender's
 * socket come back from Redis on two connections that are read in one turn, and a feed batch may
 * hold several messages for one socket.
 *
 * So a batched connection is corked at its first write in a turn and uncorked once the turn's I/O
 * callbacks have run (setImmediate runs right after them): what was written meanwhile leaves in
 * one `writev`. Nothing waits for a later turn. A connection's own cork (ws corks around each
 * frame) nests inside this one. `destroy()` throws away what is still corked, and engine.io
 * writes a refused upgrade's HTTP answer and destroys the socket at once: so a held connection
 * is uncorked before it is destroyed, and loses nothing it would have sent unbatched.
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
