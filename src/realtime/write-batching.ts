import { Socket } from "node:net";

/**
 * ws writes every frame as it comes, so each costs its own `writev`, and those system calls take
 * nearly half of a worker's time under load (docs/performance.md, B2). Yet a connection is often
 * written several frames in a row: the messages of a feed batch for one socket, a message's ack
 * and its delivery to the sender's socket.
 *
 * So a batched connection is corked at its first write in a turn of the event loop and uncorked
 * once the turn's I/O callbacks have run (setImmediate runs right after them): what was written
 * meanwhile leaves in one `writev`. A connection's own cork (ws corks around each frame) nests
 * inside this one.
 *
 * A write is reported done as soon as it is held. engine.io sends a socket's next packet only
 * once the last write's callback has come; reported with the `writev`, every packet after a
 * turn's first would wait for the next turn and its own `writev`. Only while the connection holds
 * less than its high-water mark, though: past it (a client that does not read) a write is done
 * when the kernel has it, as unbatched, so engine.io queues what follows and socket.io drops
 * volatile packets (typing indicators) for that client. A write that fails after it was reported
 * done still destroys the connection ('error', then 'close'), which ws and engine.io handle as a
 * lost connection.
 *
 * `destroy()` throws away what is still corked, and engine.io writes a refused upgrade's HTTP
 * answer and destroys the socket at once: so a held connection is uncorked before it is
 * destroyed, and loses nothing it would have sent unbatched.
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
  const callback = args[args.length - 1];
  if (typeof callback === "function" && this.writableLength < this.writableHighWaterMark) {
    args.pop();
    process.nextTick(callback as () => void);
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
