import { setupWorker } from "@socket.io/sticky";
import type { Server } from "socket.io";
import type { ConnectionsReport } from "../primary/hand-off.js";

/** How often a worker reports its connections to the primary, when they changed. */
const REPORT_EVERY_MS = 200;

/**
 * The worker's half of @socket.io/sticky, without its two IPC messages per WebSocket connection.
 *
 * sticky's worker tells the primary of every new engine.io session and of its end: the primary
 * then routes requests that name the session (`sid=`) to this worker, and counts each worker's
 * connections. Only a polling session sends such requests; a WebSocket opened directly carries
 * its whole session. Yet each message costs a system call and a wake-up of the primary, and the
 * primary keeps an entry for each session, and the worker a "close" listener: without them a
 * connect costs the server 6 % less CPU, and an idle socket about 0.3 KB less RSS
 * (docs/performance.md, B4).
 *
 * So only polling sessions are announced, and the worker reports how many connections it holds,
 * at most every REPORT_EVERY_MS, for the primary's choice of the worker with the fewest.
 */
export function routeStickily(io: Server): void {
  const engine = io.engine;
  const ours = new Set(engine.listeners("connection"));
  setupWorker(io);
  for (const listener of engine.listeners("connection") as ((socket: unknown) => void)[]) {
    if (ours.has(listener)) continue;
    engine.off("connection", listener);
    engine.on("connection", (socket: { transport: { name: string } }) => {
      if (socket.transport.name === "polling") listener(socket);
    });
  }
  reportConnections(() => engine.clientsCount);
}

function reportConnections(connections: () => number): void {
  let received = 0;
  // Each carries a connection (or carried one that closed on the way): the primary counts them too.
  process.on("message", (message: { type?: string } | undefined) => {
    if (message?.type === "sticky:connection") received++;
  });
  let last = "";
  const ignore = () => undefined; // the primary is gone: the worker stops by itself
  setInterval(() => {
    const report: ConnectionsReport = { type: "worker:connections", connections: connections(), received };
    const key = `${report.connections}/${report.received}`;
    if (key === last || !process.connected) return;
    last = key;
    process.send?.(report, ignore);
  }, REPORT_EVERY_MS).unref();
}
