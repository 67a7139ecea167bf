/**
 * A cluster worker for test/unit/router.test.ts: a bare socket.io server that takes its connections
 * from the primary's router through takeRoutedConnections, as the chat's workers do. Every other
 * HTTP request is answered with the worker's id and the length of the body it received.
 */
import cluster from "node:cluster";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { sendToPrimary } from "../../src/lib/ipc.js";
import { takeRoutedConnections } from "../../src/worker/routed-connections.js";

const server = createServer((req, res) => {
  let length = 0;
  req.on("data", (chunk: Buffer) => {
    length += chunk.length;
  });
  req.on("end", () => res.end(JSON.stringify({ worker: cluster.worker?.id, length })));
});
const io = new Server(server, { transports: ["polling", "websocket"] });
io.on("connection", (socket) => socket.on("whoami", (ack: (id: number | undefined) => void) => ack(cluster.worker?.id)));
takeRoutedConnections(server, io.engine, cluster.worker?.id ?? 0);
sendToPrimary({ type: "worker:ready", instance: String(process.pid) });
