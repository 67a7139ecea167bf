/**
 * A cluster worker for test/unit/sticky-routing.test.ts: a bare socket.io server that takes its
 * connections from the primary through routeStickily, as the chat's workers do.
 */
import { createServer } from "node:http";
import { Server } from "socket.io";
import { routeStickily } from "../../src/worker/sticky-routing.js";

routeStickily(new Server(createServer()));
process.send?.({ type: "up" });
