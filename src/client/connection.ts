/**
 * The socket: connection state for the banner, reconnection with backoff and jitter, and
 * promise-based requests over acked events.
 *
 * socket.io reconnects by itself after a lost transport (worker crash, network blip), but not
 * after the server disconnected the socket or refused it in a middleware: `socket.active` is then
 * false and the client has to call connect() itself. `unauthorized` is the one refusal that must
 * not be retried: the session is gone, the user has to sign in again.
 *
 * The backoff waits up to 8 s between attempts. When the browser says the network is back
 * (`online`) or the user returns to the tab (`visibilitychange`), the wait is skipped: an attempt
 * starts at once, since that is when a server that came back meanwhile is most likely reachable.
 */
import { io, type Socket } from "socket.io-client";
import type { ErrorCode } from "../lib/error-codes.js";
import type { Ack, AckFn, ClientToServerEvents, HandshakeAuth, ServerToClientEvents } from "../realtime/events.js";

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

/** A failed request: a protocol error code, or why the request never got an answer. */
export class RequestError extends Error {
  override readonly name = "RequestError";
  constructor(
    readonly code: ErrorCode | "E_OFFLINE" | "E_TIMEOUT",
    message: string,
  ) {
    super(message);
  }

  /** Worth trying again later with the same payload (the server dedupes sends by clientId). */
  get transient(): boolean {
    return ["E_OFFLINE", "E_TIMEOUT", "E_UNAVAILABLE", "E_RATE_LIMITED", "E_INTERNAL"].includes(this.code);
  }
}

type AckedEvent = {
  [E in keyof ClientToServerEvents]: Parameters<ClientToServerEvents[E]> extends [unknown, AckFn<never>] ? E : never;
}[keyof ClientToServerEvents];
type PayloadOf<E extends AckedEvent> = Parameters<ClientToServerEvents[E]>[0];
type DataOf<E extends AckedEvent> = Parameters<ClientToServerEvents[E]>[1] extends AckFn<infer T> ? T : never;

export interface ConnectionOptions {
  /** Read at every handshake, so each reconnect asks for exactly what this tab is missing. */
  handshake: () => HandshakeAuth;
  onState: (state: ConnectionState) => void;
  /** The server refused the session or ended it: the page must go to /login. */
  onSignedOut: () => void;
}

/** After this many failed attempts in a row the banner says offline rather than reconnecting. */
const OFFLINE_AFTER_ATTEMPTS = 4;
const REQUEST_TIMEOUT_MS = 10_000;

export class Connection {
  readonly socket: ChatSocket;
  private stateValue: ConnectionState = "connecting";
  private failedAttempts = 0;
  private manualRetry: ReturnType<typeof setTimeout> | undefined;
  private signedOut = false;

  constructor(private readonly options: ConnectionOptions) {
    this.socket = io({
      // A function, so every reconnect sends the ids held now rather than those of the first connect.
      auth: (cb) => cb(options.handshake()),
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 8_000,
      randomizationFactor: 0.5,
      // A handshake that gets no answer (a worker that died or is still starting) is abandoned
      // and retried after this long, instead of socket.io's default 20 s.
      timeout: 8_000,
      // Connect only once every listener is attached (start()).
      autoConnect: false,
    });
    this.listen();
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  start(): void {
    this.socket.connect();
  }

  /** Sends an acked event; rejects with RequestError when offline, on timeout, or on `{ok:false}`. */
  async request<E extends AckedEvent>(event: E, payload: PayloadOf<E>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<DataOf<E>> {
    // Never let socket.io buffer an emit for a later connection: the caller decides what to resend
    // (the outbox resends with the same clientId), and a buffered copy would be a second send.
    if (!this.socket.connected) throw new RequestError("E_OFFLINE", "not connected");
    // socket.io's typings cannot express "some acked event" generically; the event maps above keep
    // the payload and result types tied to the event name, so this one cast is contained.
    const emitter = this.socket.timeout(timeoutMs) as unknown as {
      emitWithAck(event: string, payload: unknown): Promise<Ack<DataOf<E>>>;
    };
    let reply: Ack<DataOf<E>>;
    try {
      reply = await emitter.emitWithAck(event, payload);
    } catch (error) {
      const disconnected = error instanceof Error && /disconnected/.test(error.message);
      throw new RequestError(disconnected ? "E_OFFLINE" : "E_TIMEOUT", disconnected ? "connection lost" : "no answer in time");
    }
    if (!reply || typeof reply !== "object") throw new RequestError("E_INTERNAL", "malformed reply");
    if (!reply.ok) throw new RequestError(reply.error.code, reply.error.message);
    return reply.data;
  }

  /** Typing notices are worthless once late: never queued while offline. */
  typing(to: string): void {
    if (this.socket.connected) this.socket.volatile.emit("typing", { to });
  }

  /**
   * This page is signing out by itself (the logout form is posting): close the socket quietly, so
   * the server's `session:ended` does not start a second navigation that aborts the form's.
   */
  leave(): void {
    this.signedOut = true;
    this.clearManualRetry();
    this.socket.disconnect();
  }

  /** Skips the remaining backoff (the browser came back online, the tab is visible again, or the user asked). */
  retryNow(): void {
    // While "connecting" the first attempt is still under way: there is no backoff to skip.
    if (this.socket.connected || this.signedOut || this.stateValue === "connecting") return;
    this.clearManualRetry();
    this.socket.disconnect().connect();
  }

  private listen(): void {
    const { socket } = this;
    socket.on("connect", () => {
      this.failedAttempts = 0;
      this.clearManualRetry();
      this.setState("connected");
    });
    socket.on("disconnect", (reason) => {
      if (this.signedOut || reason === "io client disconnect") return;
      this.setState(navigator.onLine ? "reconnecting" : "offline");
      // The server closed this socket on purpose (shutdown, drain): socket.io will not retry.
      if (reason === "io server disconnect") this.scheduleManualRetry();
    });
    socket.on("connect_error", (error) => {
      if (error.message === "unauthorized") {
        this.signOut();
        return;
      }
      this.failedAttempts++;
      this.setState(!navigator.onLine || this.failedAttempts >= OFFLINE_AFTER_ATTEMPTS ? "offline" : "reconnecting");
      // Refused by a server middleware for another reason (overload, Redis blip): retry ourselves.
      if (!socket.active) this.scheduleManualRetry();
    });
    socket.on("session:ended", () => this.signOut());
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retryNow();
    });
    window.addEventListener("offline", () => {
      if (!socket.connected) this.setState("offline");
    });
  }

  private signOut(): void {
    if (this.signedOut) return;
    this.leave();
    this.options.onSignedOut();
  }

  /** Exponential backoff with full jitter, like socket.io's own, so a restarted server is not stampeded. */
  private scheduleManualRetry(): void {
    if (this.manualRetry !== undefined || this.signedOut) return;
    const ceiling = Math.min(8_000, 500 * 2 ** Math.min(this.failedAttempts, 10));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.manualRetry = setTimeout(() => {
      this.manualRetry = undefined;
      if (!this.socket.connected && !this.signedOut) this.socket.connect();
    }, delay);
  }

  private clearManualRetry(): void {
    if (this.manualRetry !== undefined) clearTimeout(this.manualRetry);
    this.manualRetry = undefined;
  }

  private setState(state: ConnectionState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.options.onState(state);
  }
}
