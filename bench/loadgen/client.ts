/**
 * One benchmark socket: the socket.io v5 protocol (engine.io v4) spoken directly over `ws`,
 * websocket transport only. socket.io-client would cost the load generator more CPU than the
 * server it measures (reconnect managers, timers, a full decoder per packet); this client parses
 * only what it needs and leaves the frame bytes to the caller.
 *
 * It behaves like the project's browser client (src/client/connection.ts) where that matters for
 * the numbers: the session cookie on the handshake, `auth.lastIds` on every (re)connect, resending
 * unacknowledged messages with the same clientId, reconnection delays of 500 ms doubling to 8 s
 * (±50 %), an 8 s handshake timeout, retrying after a server-side disconnect or a refusal, and
 * giving up only on "unauthorized".
 */
import WebSocket from "ws";

/** engine.io/socket.io packet prefixes (text frames). */
const PING = 0x32; // "2"
const MESSAGE = 0x34; // "4"
const SIO_CONNECT = 0x30; // "40"
const SIO_DISCONNECT = 0x31; // "41"
const SIO_EVENT = 0x32; // "42"
const SIO_ACK = 0x33; // "43"
const SIO_CONNECT_ERROR = 0x34; // "44"
const OPEN = 0x30; // "0"
const CLOSE = 0x31; // "1"

/** The project's client abandons a handshake after this long (socket.io's default is 20 s). */
const HANDSHAKE_TIMEOUT_MS = 8000;

const EVENT_MESSAGE_NEW = '["message:new",';
const EVENT_MESSAGE_EDITED = '["message:edited",';
const EVENT_WELCOME = '["welcome",';
const EVENT_TRUNCATED = '["history:truncated",';

export type AckReply = { ok: true; data: Record<string, unknown> } | { ok: false; error: { code: string; message: string } };

export interface ClientHooks {
  /** A `message:new` frame, untouched (payload.ts reads it). */
  onMessage(client: BenchClient, frame: Buffer): void;
  /** `history:truncated`: the server replaced a replay with the latest page. */
  onTruncated?(client: BenchClient, payload: { conversation: string; messages: { id: string }[] }): void;
  /** The welcome of a (re)connection arrived. */
  onReady?(client: BenchClient, reconnect: boolean): void;
  /** A connection that had been ready was lost ("kicked" = the server sent a disconnect packet). */
  onDisconnect?(client: BenchClient, reason: string): void;
  /** A (re)connection attempt failed; `reason` is short and groupable. */
  onFailure?(client: BenchClient, reason: string): void;
}

export interface ClientOptions {
  index: number;
  user: string;
  cookie: string;
  /** ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket */
  url: string;
  localAddress: string;
  hooks: ClientHooks;
}

interface Outgoing {
  /** The event packet without its ack id: `["message:send",{...}]`. */
  body: string;
  onAck: (reply: AckReply) => void;
}

export class BenchClient {
  readonly index: number;
  readonly user: string;
  ready = false;
  /** Reconnect after a lost connection (as the project's client does); off while a run shuts down. */
  reconnect = false;
  /** Resend unacked messages on reconnect (the project's delivery rule). */
  resend = false;
  /** Rooms to join again after a reconnect: the reference keeps no membership across connections. */
  rejoin: string[] = [];
  /** The newest message id per conversation, sent as auth.lastIds (only kept when tracking). */
  readonly lastIds = new Map<string, string>();
  trackIds = false;
  /** `welcome.instance` of the current connection: "<host>/<worker pid>". */
  instance = "";
  /** When the current outage began (ms), for the reconnect-storm figures. */
  downSince: number | undefined;
  everReady = false;

  private ws: WebSocket | undefined;
  private nextAckId = 0;
  private readonly acks = new Map<number, (reply: AckReply) => void>();
  /** Sends awaiting an ack, by clientId, so they can be resent after a reconnect. */
  private readonly outbox = new Map<string, Outgoing>();
  private attempts = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private connectWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private closedByUs = false;

  constructor(private readonly options: ClientOptions) {
    this.index = options.index;
    this.user = options.user;
  }

  /** Resolves at the welcome; rejects on the first failure (the caller decides about retries). */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.connectWaiters.push({ resolve, reject });
      this.open();
    });
  }

  private open(): void {
    this.closedByUs = false;
    this.ready = false;
    const ws = new WebSocket(this.options.url, {
      headers: { Cookie: this.options.cookie },
      localAddress: this.options.localAddress,
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      skipUTF8Validation: true,
    });
    this.ws = ws;
    let failed = false;
    const fail = (reason: string): void => {
      if (failed || this.ws !== ws) return;
      failed = true;
      this.clearHandshakeTimer();
      const wasReady = this.ready;
      this.ready = false;
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
      this.ws = undefined;
      this.failPending();
      if (wasReady) {
        this.downSince = Date.now();
        this.options.hooks.onDisconnect?.(this, reason);
      } else {
        this.options.hooks.onFailure?.(this, reason);
        for (const waiter of this.connectWaiters.splice(0)) waiter.reject(new Error(reason));
      }
      if (!this.closedByUs && this.reconnect && reason !== "connect_error:unauthorized") this.scheduleRetry();
    };
    this.handshakeTimer = setTimeout(() => fail("timeout"), HANDSHAKE_TIMEOUT_MS);
    ws.on("unexpected-response", (_req, res) => fail(`http-${res.statusCode ?? 0}`));
    ws.on("error", (err: NodeJS.ErrnoException) => fail(err.code ?? "ws-error"));
    ws.on("close", () => fail("closed"));
    ws.on("message", (data: Buffer) => {
      const type = data[0];
      if (type === MESSAGE) {
        const sub = data[1];
        if (sub === SIO_EVENT) this.onEvent(data);
        else if (sub === SIO_ACK) this.onAck(data);
        else if (sub === SIO_CONNECT) {
          // Connected to the namespace; the welcome event marks readiness.
        } else if (sub === SIO_CONNECT_ERROR) fail(`connect_error:${errorMessage(data)}`);
        else if (sub === SIO_DISCONNECT) fail("kicked");
      } else if (type === PING) ws.send("3");
      else if (type === OPEN) ws.send(this.connectPacket());
      else if (type === CLOSE) fail("closed");
    });
  }

  private connectPacket(): string {
    if (!this.trackIds || this.lastIds.size === 0) return "40";
    return `40${JSON.stringify({ lastIds: Object.fromEntries(this.lastIds) })}`;
  }

  private onEvent(frame: Buffer): void {
    // "42" then the JSON array; compare the event name in place.
    if (frame.toString("latin1", 2, 2 + EVENT_MESSAGE_NEW.length) === EVENT_MESSAGE_NEW) {
      this.options.hooks.onMessage(this, frame);
    } else if (frame.toString("latin1", 2, 2 + EVENT_MESSAGE_EDITED.length) === EVENT_MESSAGE_EDITED) {
      // An edit carries its text (and so the stamp) like a message: scored the same way.
      this.options.hooks.onMessage(this, frame);
    } else if (frame.toString("latin1", 2, 2 + EVENT_WELCOME.length) === EVENT_WELCOME) {
      const [, welcome] = JSON.parse(frame.toString("utf8", 2)) as [string, { instance?: string }];
      this.instance = welcome.instance ?? "";
      this.onWelcome();
    } else if (frame.toString("latin1", 2, 2 + EVENT_TRUNCATED.length) === EVENT_TRUNCATED) {
      const [, payload] = JSON.parse(frame.toString("utf8", 2)) as [string, { conversation: string; messages: { id: string }[] }];
      this.options.hooks.onTruncated?.(this, payload);
    }
  }

  private onWelcome(): void {
    this.clearHandshakeTimer();
    const reconnect = this.everReady;
    this.ready = true;
    this.everReady = true;
    this.attempts = 0;
    for (const room of reconnect ? this.rejoin : []) this.emit("room:join", { room }, () => {});
    if (reconnect && this.resend) {
      for (const out of this.outbox.values()) this.sendPacket(out.body, out.onAck);
    }
    this.options.hooks.onReady?.(this, reconnect);
    this.downSince = undefined;
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
  }

  private onAck(frame: Buffer): void {
    let i = 2;
    let id = 0;
    for (let c = frame[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = frame[++i]) id = id * 10 + (c - 0x30);
    const handler = this.acks.get(id);
    if (!handler) return;
    this.acks.delete(id);
    const [reply] = JSON.parse(frame.toString("utf8", i)) as [AckReply];
    handler(reply);
  }

  /** Emits an event with an ack. Fails the ack at once ({ok:false, code "E_DISCONNECTED"}) when not connected. */
  emit(event: string, payload: unknown, onAck: (reply: AckReply) => void): void {
    this.sendPacket(`[${JSON.stringify(event)},${JSON.stringify(payload)}]`, onAck);
  }

  /**
   * Sends a chat message built by hand (no JSON.stringify on the hot path). With `resend` on, it is
   * kept until acked and sent again, same clientId, after a reconnect.
   */
  sendMessage(to: string, text: string, clientId: string, onAck: (reply: AckReply) => void): void {
    this.sendKept(`["message:send",{"to":"${to}","text":"${text}","clientId":"${clientId}"}]`, clientId, onAck);
  }

  /** Edits one of this user's messages, built by hand and kept like a message (see sendMessage). */
  editMessage(conversation: string, id: string, text: string, clientId: string, onAck: (reply: AckReply) => void): void {
    const body = `["message:edit",{"conversation":"${conversation}","id":"${id}","text":"${text}","clientId":"${clientId}"}]`;
    this.sendKept(body, clientId, onAck);
  }

  private sendKept(body: string, clientId: string, onAck: (reply: AckReply) => void): void {
    if (this.resend) {
      const out: Outgoing = {
        body,
        onAck: (reply) => {
          this.outbox.delete(clientId);
          onAck(reply);
        },
      };
      this.outbox.set(clientId, out);
      if (this.ready) this.sendPacket(body, out.onAck, true);
      return;
    }
    this.sendPacket(body, onAck);
  }

  private sendPacket(body: string, onAck: (reply: AckReply) => void, keepOnFailure = false): void {
    const ws = this.ws;
    if (!this.ready || !ws) {
      if (!keepOnFailure) onAck({ ok: false, error: { code: "E_DISCONNECTED", message: "not connected" } });
      return;
    }
    const id = this.nextAckId++;
    this.acks.set(id, onAck);
    ws.send(`42${id}${body}`);
  }

  /** Acks that will never come: their connection is gone. Outbox entries stay for the resend. */
  private failPending(): void {
    const pending = [...this.acks.values()];
    this.acks.clear();
    const kept = new Set([...this.outbox.values()].map((o) => o.onAck));
    for (const handler of pending) {
      if (!kept.has(handler)) handler({ ok: false, error: { code: "E_DISCONNECTED", message: "connection lost" } });
    }
  }

  /** Messages sent but not acknowledged yet (they may still be delivered). */
  get unacked(): number {
    return this.outbox.size;
  }

  private scheduleRetry(): void {
    // As the project's client: reconnectionDelay 500, reconnectionDelayMax 8000, randomization 0.5.
    const base = Math.min(500 * 2 ** this.attempts, 8000);
    const delay = base * (1 + (Math.random() * 2 - 1) * 0.5);
    this.attempts++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.closedByUs && this.reconnect) this.open();
    }, delay);
  }

  private clearHandshakeTimer(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  close(): void {
    this.closedByUs = true;
    this.reconnect = false;
    clearTimeout(this.retryTimer);
    this.clearHandshakeTimer();
    const ws = this.ws;
    this.ws = undefined;
    this.ready = false;
    if (ws) {
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
    }
  }
}

function errorMessage(frame: Buffer): string {
  try {
    return (JSON.parse(frame.toString("utf8", 2)) as { message?: string }).message ?? "?";
  } catch {
    return "?";
  }
}
