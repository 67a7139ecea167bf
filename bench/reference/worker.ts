/**
 * Reference worker: socket.io + @socket.io/redis-adapter, relaying `message:send` to the room with
 * `io.to(room).emit` (the sender's sockets included, as the project does) and acking at once.
 *
 * "Login" only names the user in a cookie: the reference measures the relay, not accounts. It
 * applies the socket.io memory tip (drop the handshake request), as socket.io advises any server
 * to, so that B4 compares the project with a server set up as recommended.
 */
import cluster from "node:cluster";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { hostname } from "node:os";
import { createClient } from "@redis/client";
import { createAdapter } from "@socket.io/redis-adapter";
import { setupWorker } from "@socket.io/sticky";
import { Server } from "socket.io";
import type { ClientToServerEvents, Conversation, Message, ServerToClientEvents } from "../../src/realtime/events.js";
import type { ReferenceConfig } from "./main.js";

const COOKIE = "ref.sid";
const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;

interface SocketData {
  user: string;
}

function userFromCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const [name, value] = part.trim().split("=");
    if (name === COOKIE && value && USERNAME.test(value)) return value;
  }
  return undefined;
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        resolve(undefined);
      }
    });
    req.on("error", () => resolve(undefined));
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (path?.startsWith("/socket.io/")) return; // engine.io answers these
  if (req.method === "GET" && (path === "/readyz" || path === "/healthz")) return sendJson(res, 200, { ok: true });
  if (req.method === "GET" && path === "/api/session") {
    const user = userFromCookie(req.headers.cookie);
    return user
      ? sendJson(res, 200, { user: { name: user } })
      : sendJson(res, 401, { error: { code: "E_UNAUTHORIZED", message: "log in" } });
  }
  if (req.method === "POST" && (path === "/api/register" || path === "/api/login")) {
    const body = (await readJson(req)) as { username?: unknown } | undefined;
    const name = body?.username;
    if (typeof name !== "string" || !USERNAME.test(name)) {
      return sendJson(res, 400, { error: { code: "E_INVALID", message: "bad username" } });
    }
    return sendJson(res, 200, { user: { name } }, { "set-cookie": `${COOKIE}=${name}; Path=/; HttpOnly; SameSite=Lax` });
  }
  sendJson(res, 404, { error: { code: "E_NOT_FOUND", message: "not found" } });
}

export async function runWorker(config: ReferenceConfig): Promise<void> {
  // node-redis 6 rejects a command after 5 s by default; the adapter's PUBLISH does not catch
  // that, so an overloaded worker (B6) would die of an unhandled rejection. No timeout, as with
  // the node-redis 4 the adapter was written against.
  const pub = createClient({ url: config.redisUrl, commandOptions: { timeout: 0 } });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  const connected = Promise.all([pub.connect(), sub.connect()]);

  const httpServer = createServer((req, res) => {
    handleHttp(req, res).catch(() => sendJson(res, 500, { error: { code: "E_INTERNAL", message: "internal" } }));
  });
  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(httpServer, {
    serveClient: false,
    adapter: createAdapter(pub, sub, { key: `${config.redisPrefix}socket.io` }),
  });
  setupWorker(io);

  // socket.io memory tip: the engine.io socket keeps the first HTTP request alive; keep only the user.
  const users = new WeakMap<object, string>();
  io.engine.on("connection", (raw: { request: IncomingMessage | null }) => {
    const user = userFromCookie(raw.request?.headers.cookie);
    if (user) users.set(raw, user);
    raw.request = null;
  });
  io.use((socket, next) => {
    const user = users.get(socket.conn);
    if (!user) return next(new Error("unauthorized"));
    socket.data.user = user;
    next();
  });

  const instance = `${hostname()}/${process.pid}`;
  // Unique across workers without coordination, shaped like a Redis stream id.
  let seq = (cluster.worker?.id ?? 0) * 1e9;

  io.on("connection", (socket) => {
    const user = socket.data.user;
    socket.emit("welcome", { user, instance, rooms: [], private: [], directs: [] });

    socket.on("room:join", (payload, ack) => {
      const room = payload?.room;
      if (typeof room !== "string" || !room.startsWith("#")) {
        return ack?.({ ok: false, error: { code: "E_INVALID", message: "room" } });
      }
      socket.join(room.toLowerCase());
      ack?.({ ok: true, data: { room: room.toLowerCase() as `#${string}`, history: [], private: false } });
    });

    socket.on("room:leave", (payload, ack) => {
      if (typeof payload?.room === "string") socket.leave(payload.room.toLowerCase());
      ack?.({ ok: true, data: {} });
    });

    socket.on("message:send", (payload, ack) => {
      const to = payload?.to;
      if (typeof to !== "string" || !to.startsWith("#") || typeof payload.text !== "string") {
        return ack?.({ ok: false, error: { code: "E_INVALID", message: "message" } });
      }
      const ts = Date.now();
      const id = `${ts}-${seq++}`;
      const conversation = to.toLowerCase() as Conversation;
      const message: Message = { id, conversation, from: user, text: payload.text, ts, clientId: payload.clientId };
      io.to(conversation).emit("message:new", message);
      ack?.({ ok: true, data: { id, ts } });
    });
  });

  // Out of the primary's routing (rolling restart) or told to stop: close every socket so the
  // clients reconnect to the other workers, then go.
  let stopping = false;
  // A connection the primary handed over just before it stopped routing here: refuse it at once
  // so the client retries elsewhere instead of waiting for its handshake timeout.
  httpServer.on("connection", (socket: Socket) => {
    if (stopping) socket.destroy();
  });
  const stop = (): void => {
    stopping = true;
    io.close();
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on("SIGTERM", stop);
  process.on("disconnect", stop);
  process.on("message", (message: { type?: string } | null) => {
    if (message?.type === "ref:drain") stop();
  });
  // The sticky handler above is already listening: a connection routed here while Redis is still
  // connecting waits for it instead of being dropped.
  await connected;
  process.send?.({ type: "ref:ready" });
}
