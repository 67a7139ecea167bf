import { randomUUID } from "node:crypto";
import { io, type Socket } from "socket.io-client";
import type {
  Ack,
  ClientToServerEvents,
  Message,
  MessageDeletion,
  MessageEdit,
  ServerToClientEvents,
  Welcome,
} from "../../src/realtime/events.js";

export type ChatClient = Socket<ServerToClientEvents, ClientToServerEvents>;

export const uniqueName = (prefix = "u"): string => `${prefix}${randomUUID().replaceAll("-", "").slice(0, 12)}`;
export const PASSWORD = "correct horse battery";

export interface HttpReply {
  status: number;
  body: unknown;
  cookie: string | undefined;
  headers: Headers;
}

/** A JSON request; returns the session cookie (name=value) the server set, if any. */
export async function api(base: string, path: string, body?: unknown, cookie?: string): Promise<HttpReply> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (cookie) headers.cookie = cookie;
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: "manual",
  });
  const text = await res.text();
  const setCookie = res.headers.get("set-cookie");
  return {
    status: res.status,
    body: text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text,
    cookie: setCookie?.split(";")[0],
    headers: res.headers,
  };
}

/** Registers a fresh user and returns its name and session cookie. */
export async function registerUser(base: string, prefix = "u"): Promise<{ user: string; cookie: string }> {
  const user = uniqueName(prefix);
  const reply = await api(base, "/api/register", { username: user, password: PASSWORD });
  if (reply.status !== 200 || !reply.cookie) throw new Error(`register failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  return { user, cookie: reply.cookie };
}

export interface Connected {
  socket: ChatClient;
  welcome: Welcome;
  /** Every `message:new` since the handshake (replays arrive in the same tick as `welcome`). */
  received: Message[];
  /** Every `message:edited` and `message:deleted` since the handshake, in arrival order. */
  changes: Change[];
}

export interface ConnectOptions {
  lastIds?: Record<string, string>;
  transports?: ("polling" | "websocket")[];
  reconnection?: boolean;
}

/** How long `connect` waits for a welcome while its socket retries by itself. */
const WELCOME_WITHIN_MS = 20_000;

/**
 * Connects with a session cookie and resolves on `welcome`. Rejects on a refusal (the server's
 * `connect_error`, after which socket.io does not retry), and with `reconnection: false` on any
 * failure. With `reconnection: true` a transient failure is retried, as a browser's client does:
 * for instance a polling request whose worker died is routed to another worker and answered
 * "Session ID unknown" (`xhr post error`).
 */
export function connect(base: string, cookie: string | undefined, options: ConnectOptions = {}): Promise<Connected> {
  const socket: ChatClient = io(base, {
    extraHeaders: cookie ? { cookie } : {},
    auth: options.lastIds ? { lastIds: options.lastIds } : {},
    transports: options.transports ?? ["websocket"],
    reconnection: options.reconnection ?? false,
    forceNew: true,
  });
  const received = inbox(socket);
  const changes = changeLog(socket);
  // socket.active: the client will retry by itself (socket.io's documented test). It stays true
  // after a transport failure even when reconnection is off.
  const retrying = () => options.reconnection === true && socket.active;
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(deadline);
      socket.off("connect_error", refused);
      socket.off("disconnect", dropped);
      socket.close();
      reject(err);
    };
    const refused = (err: Error) => {
      if (!retrying()) fail(err);
    };
    // A transport that fails after engine.io's open but before the welcome ends in "disconnect",
    // not connect_error.
    const dropped = (reason: string) => {
      if (!retrying()) fail(new Error(`disconnected before the welcome: ${reason}`));
    };
    const deadline = setTimeout(() => fail(new Error(`no welcome within ${WELCOME_WITHIN_MS} ms`)), WELCOME_WITHIN_MS);
    // Only the first connection is this helper's business: a reconnecting socket's failed attempts
    // (connect_error too) must not close it.
    socket.once("welcome", (welcome) => {
      clearTimeout(deadline);
      socket.off("connect_error", refused);
      socket.off("disconnect", dropped);
      resolve({ socket, welcome, received, changes });
    });
    socket.on("connect_error", refused);
    socket.on("disconnect", dropped);
  });
}

/** Emits an acknowledged event and resolves with the ack envelope. */
export function call<T>(socket: ChatClient, event: string, payload: unknown, timeoutMs = 5000): Promise<Ack<T>> {
  return (socket.timeout(timeoutMs) as unknown as { emitWithAck(e: string, p: unknown): Promise<Ack<T>> }).emitWithAck(event, payload);
}

/** Sends a message and returns the ack's data; throws on an error ack. */
export async function send(
  socket: ChatClient,
  to: string,
  text: string,
  clientId: string = randomUUID(),
): Promise<{ id: string; ts: number }> {
  const ack = await call<{ id: string; ts: number }>(socket, "message:send", { to, text, clientId });
  if (!ack.ok) throw new Error(`send failed: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

/** Joins a room (creating it if new) and returns the ack's data; throws on an error ack. */
export async function join(socket: ChatClient, room: string): Promise<{ room: string; history: Message[]; private: boolean }> {
  const ack = await call<{ room: string; history: Message[]; private: boolean }>(socket, "room:join", { room });
  if (!ack.ok) throw new Error(`room:join failed: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

/** Records every `message:new` a socket receives, in arrival order. */
export function inbox(socket: ChatClient): Message[] {
  const received: Message[] = [];
  socket.on("message:new", (message) => received.push(message));
  return received;
}

/** An edit or a deletion as a socket received it. */
export type Change = ({ event: "message:edited" } & MessageEdit) | ({ event: "message:deleted" } & MessageDeletion);

/** Records every `message:edited` and `message:deleted` a socket receives, in arrival order. */
export function changeLog(socket: ChatClient): Change[] {
  const changes: Change[] = [];
  socket.on("message:edited", (edit) => changes.push({ event: "message:edited", ...edit }));
  socket.on("message:deleted", (deletion) => changes.push({ event: "message:deleted", ...deletion }));
  return changes;
}

/** Edits (with `text`) or deletes (without) a message and returns the ack's data; throws on an error ack. */
export async function change(
  socket: ChatClient,
  conversation: string,
  id: string,
  text?: string,
  clientId: string = randomUUID(),
): Promise<{ id: string; ts: number }> {
  const [event, payload] =
    text === undefined ? ["message:delete", { conversation, id, clientId }] : ["message:edit", { conversation, id, text, clientId }];
  const ack = await call<{ id: string; ts: number }>(socket, event, payload);
  if (!ack.ok) throw new Error(`${event} failed: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

export interface PresenceChange {
  user: string;
  online: boolean;
  /** How many users the broadcast that carried it announced. */
  batch: number;
}

/** Records every presence change a socket is told, whether alone (`presence:update`) or batched. */
export function presenceLog(socket: ChatClient): PresenceChange[] {
  const changes: PresenceChange[] = [];
  socket.on("presence:update", ({ user, online }) => changes.push({ user, online, batch: 1 }));
  socket.on("presence:changes", ({ online, offline }) => {
    const batch = online.length + offline.length;
    for (const user of online) changes.push({ user, online: true, batch });
    for (const user of offline) changes.push({ user, online: false, batch });
  });
  return changes;
}

/** Waits (up to `timeoutMs`) until `socket`'s presence:list includes `user`; false if it never does. */
export async function untilOnline(socket: ChatClient, user: string, timeoutMs = 5000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const list = await call<{ users: string[] }>(socket, "presence:list", {});
    if (list.ok && list.data.users.includes(user)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits until `predicate` holds, then a little longer to catch extra deliveries: exactly-N, not
 * at-least-N. Rejects after the timeout.
 */
export async function settle(predicate: () => boolean, timeoutMs = 5000, graceMs = 150): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await new Promise((resolve) => setTimeout(resolve, graceMs));
}
