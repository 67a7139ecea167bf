import cluster, { type Worker } from "node:cluster";
import type { Server, Socket } from "node:net";

/** The libuv stream behind a net.Socket (`socket._handle`): Node internals, unchanged since Node 0.x. */
interface StreamHandle {
  readStop(): number;
  close(): void;
}

function streamHandle(socket: unknown): StreamHandle | undefined {
  return (socket as { _handle?: StreamHandle | null })._handle ?? undefined;
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
      const handle = streamHandle(socket);
      // Only libuv stops: Node still believes it reads, so it does not start again while the handle
      // waits in the queue for the worker (a worker acknowledges one handle at a time).
      handle?.readStop();
    });
  });
}

/** Sticky's own test: a request that may span several chunks (it has a body) is not handed over. */
function staysInPrimary(chunk: Buffer): boolean {
  const header = requestHead(chunk).toLowerCase();
  return header.includes("content-length:") || header.includes("transfer-encoding:");
}

/** The request line and headers of a connection's first chunk. */
function requestHead(chunk: Buffer): string {
  return chunk.subarray(0, chunk.indexOf("\r\n\r\n")).toString("latin1");
}

/**
 * Node's own acknowledgement of a handle, which a worker sends the moment it receives one (before its
 * "message" listeners run). It arrives as an "internalMessage" on the worker's ChildProcess, as
 * cluster's own messages do (child_process internals, unchanged since Node 0.x). Releasing on it,
 * the next connection already waits in the worker's channel while the worker handles the last one.
 * A message of our own, sent after the worker's handler, took 4 % of its CPU in a reconnect storm
 * (an IPC write is a system call that wakes the primary) and left its channel empty meanwhile.
 */
const HANDLE_ACK = "NODE_HANDLE_ACK";

/** How long a hand-off waits for the worker's acknowledgement before the next one goes anyway. */
const RECEIVED_WITHIN_MS = 1000;

export interface HandOffs {
  /**
   * New connections (reconnecting clients among them) waiting for any routable worker: how far
   * the workers are behind. Requests for existing sessions wait for their own worker, apart.
   */
  backlog(): number;
  /** Connections handed to a worker since the primary started. */
  handedOff(): number;
}

/** What a worker reports of its load (worker/sticky-routing.ts), when it changed. */
export interface ConnectionsReport {
  type: "worker:connections";
  /** engine.io sessions open in the worker. */
  connections: number;
  /** Connections the worker has received from the primary so far. */
  received: number;
}

type SendArgs = [message: unknown, handle?: unknown, ...rest: unknown[]];
type Send = (...args: SendArgs) => boolean;

interface Channel {
  worker: Worker;
  send: Send;
  /** Set while a handed-over connection waits for the worker's acknowledgement. */
  inFlight?: { timer: NodeJS.Timeout; handle: StreamHandle | undefined };
  /** Connections that must reach this worker (their request names its engine.io session). */
  pinned: SendArgs[];
  /** Connections handed to this worker so far. */
  handed: number;
  /** The worker's last report, if it sent one. */
  reported?: Omit<ConnectionsReport, "type">;
}

/**
 * How many connections a worker holds: its last report, plus those handed to it that it had not
 * received yet when it reported. A worker that does not report (the bench's reference relay, or
 * one of an older version while a deploy rolls) announces every session to sticky, which counts them.
 */
function load({ reported, handed, worker }: Channel): number {
  if (reported === undefined) return (worker as { clientsCount?: number }).clientsCount ?? 0;
  return reported.connections + handed - reported.received;
}

/**
 * Node passes one socket at a time to a worker: the next waits until the worker has acknowledged
 * the last, so a worker takes at most one new connection per turn of its event loop (and Node
 * re-queues every waiting socket on each acknowledgement, quadratic in the queue). In a reconnect
 * storm (B5) thousands queue for the surviving worker while its replacement, ready a second
 * later, gets none of them. So the primary keeps the queue itself: a connection whose request
 * names an engine.io session waits for its worker; any other goes to the first worker that has no
 * hand-off in flight (the fewest sockets first), whichever worker sticky picked. Messages without
 * a socket are sent at once. Call once, before the first fork.
 */
export function dispatchHandOffs(): HandOffs {
  const channels = new Map<Worker, Channel>();
  const unpinned: SendArgs[] = [];
  let handedOff = 0;

  const routable = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const start = (channel: Channel, args: SendArgs): boolean => {
    // Taken before sending: Node detaches the handle from its socket when it sends it.
    const handle = streamHandle(args[1]);
    handedOff++;
    channel.handed++;
    channel.inFlight = { timer: setTimeout(() => release(channel), RECEIVED_WITHIN_MS).unref(), handle };
    return channel.send(...args);
  };
  /** The worker's channel is free: its pinned connections first, then any (if it is routable). */
  const release = (channel: Channel): void => {
    clearTimeout(channel.inFlight?.timer);
    channel.inFlight = undefined;
    const args = channel.pinned.shift() ?? (routable().includes(channel.worker) ? unpinned.shift() : undefined);
    if (args) start(channel, args);
  };
  const idleWorker = (): Channel | undefined => {
    let best: { channel: Channel; count: number } | undefined;
    for (const worker of routable()) {
      const channel = channels.get(worker);
      if (channel === undefined || channel.inFlight !== undefined) continue;
      const count = load(channel);
      if (!best || count < best.count) best = { channel, count };
    }
    return best?.channel;
  };

  cluster.on("fork", (worker: Worker) => {
    const channel: Channel = {
      worker,
      send: worker.send.bind(worker) as Send,
      pinned: [],
      handed: 0,
    };
    channels.set(worker, channel);
    // Node's listener, registered at fork, has cleared its own queue by the time this one runs.
    worker.process.on("internalMessage", (message: { cmd?: string } | undefined) => {
      if (message?.cmd === HANDLE_ACK) release(channel);
    });
    worker.on("message", (message: { type?: string } | ConnectionsReport | undefined) => {
      // The supervisor makes a worker routable when it is ready (its listener runs after this one).
      if (message?.type === "worker:ready") setImmediate(() => channel.inFlight === undefined && release(channel));
      if (message?.type === "worker:connections" && "connections" in message) {
        channel.reported = { connections: message.connections, received: message.received };
      }
    });
    // Connections still queued for a worker that died: their clients reconnect at once. So does the
    // one it never acknowledged: Node would keep the primary's copy of that open for ever.
    worker.on("exit", () => {
      clearTimeout(channel.inFlight?.timer);
      channel.inFlight?.handle?.close();
      channels.delete(worker);
      for (const [, handle] of channel.pinned.splice(0)) (handle as Socket).destroy();
    });
    (worker as { send: Send }).send = (...args) => {
      const handle = args[1];
      if (handle === undefined || handle === null || typeof handle === "function") return channel.send(...args);
      if (namesSession(args[0])) {
        if (channel.inFlight === undefined) return start(channel, args);
        channel.pinned.push(args);
        return true;
      }
      const idle = idleWorker();
      if (idle) return start(idle, args);
      unpinned.push(args);
      return true;
    };
  });

  return { backlog: () => unpinned.length, handedOff: () => handedOff };
}

/** Whether sticky's hand-off carries a request for an existing engine.io session (sid=...). */
function namesSession(message: unknown): boolean {
  const data = (message as { data?: unknown } | null)?.data;
  return Buffer.isBuffer(data) && requestHead(data).includes("sid=");
}
