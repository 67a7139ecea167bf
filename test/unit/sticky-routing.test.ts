/**
 * The worker's half of sticky routing (src/worker/sticky-routing.ts) under @socket.io/sticky's
 * primary: only a polling session is announced to the primary (its later requests name it), a
 * WebSocket session is not, and the worker reports how many connections it holds.
 */
import cluster, { type Worker } from "node:cluster";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { setupMaster } from "@socket.io/sticky";
import { io, type Socket } from "socket.io-client";
import t from "tap";
import { PROJECT_ROOT } from "../../src/lib/paths.js";
import { until } from "../helpers/until.js";

type WorkerMessage = { type?: string; data?: string; connections?: number };

cluster.setupPrimary({ exec: join(PROJECT_ROOT, "test/helpers/sticky-worker.ts"), serialization: "advanced" });

t.test("polling sessions are announced to the primary, WebSocket sessions only counted", async (t) => {
  const server = createServer();
  setupMaster(server, { loadBalancingMethod: "least-connection" });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const worker: Worker = cluster.fork();
  const messages: WorkerMessage[] = [];
  worker.on("message", (message: WorkerMessage) => messages.push(message));
  await until(() => messages.some((m) => m.type === "up"), "the worker");
  const clients: Socket[] = [];
  t.teardown(async () => {
    for (const client of clients) client.close();
    worker.process.kill();
    await once(worker, "exit");
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const connected = async (transports: string[]): Promise<Socket> => {
    const client = io(url, { transports, reconnection: false });
    clients.push(client);
    await new Promise((resolve) => client.once("connect", () => resolve(undefined)));
    return client;
  };
  const announced = () => messages.filter((m) => m.type === "sticky:connection").map((m) => m.data);
  const lastReport = () => messages.filter((m) => m.type === "worker:connections").at(-1)?.connections;

  const websocket = await connected(["websocket"]);
  await until(() => lastReport() === 1, "a report of 1 connection");
  t.same(announced(), [], "the WebSocket session was not announced");

  const polling = await connected(["polling"]);
  const pollingId = polling.io.engine.id;
  await until(() => lastReport() === 2, "a report of 2 connections");
  t.same(announced(), [pollingId], "the polling session was, by its id");

  websocket.close();
  await until(() => lastReport() === 1, "a report of 1 connection again");
  polling.close();
  await until(() => lastReport() === 0, "a report of 0 connections");
  t.same(
    messages.filter((m) => m.type === "sticky:disconnection").map((m) => m.data),
    [pollingId],
    "only the polling session's end was announced",
  );
});
