import type { Server as HttpServer } from "node:http";
import { Socket } from "node:net";
import type { Server as SocketServer } from "socket.io";
import { isPrimaryMessage, sendToPrimary, sessionIdFor } from "../lib/ipc.js";

/** How often a worker reports its connections to the primary, when they changed. */
const REPORT_EVERY_MS = 200;

/**
 * The worker's half of the project's sticky routing (the primary's half is primary/router.ts): it
 * takes the connections the primary hands over, names its engine.io sessions after itself so that
 * their later requests come back here, and reports its load for the primary's least-connection choice.
 */
export function takeRoutedConnections(server: HttpServer, engine: SocketServer["engine"], workerId: number): void {
  // engine.io's documented extension point for custom session ids.
  engine.generateId = () => sessionIdFor(workerId);
  // One request per connection: a kept-alive connection could carry a later request of another
  // session, which belongs to another worker.
  server.prependListener("request", (_req, res) => res.setHeader("Connection", "close"));

  let received = 0;
  process.on("message", (message: unknown, socket: unknown) => {
    if (!isPrimaryMessage(message) || message.type !== "router:connection") return;
    received++;
    // Undefined when the client closed the connection on its way here.
    if (!(socket instanceof Socket)) return;
    server.emit("connection", socket);
    // The primary read these bytes to choose this worker: the HTTP parser reads them first.
    socket.unshift(message.head);
  });

  let last = "";
  setInterval(() => {
    const connections = engine.clientsCount;
    const key = `${connections}/${received}`;
    if (key === last) return;
    last = key;
    sendToPrimary({ type: "worker:connections", connections, received });
  }, REPORT_EVERY_MS).unref();
}
