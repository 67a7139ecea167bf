import { randomUUID } from "node:crypto";
import { io } from "socket.io-client";
import { compareIds } from "../../src/domain/stream-ids.js";
import type { Ack, Message } from "../../src/realtime/events.js";
import type { ChatClient } from "./clients.js";

interface Pending {
  to: string;
  text: string;
  clientId: string;
  inFlight: boolean;
}

export interface Acked {
  id: string;
  to: string;
  from: string;
  clientId: string;
}

/**
 * A client that follows docs/protocol.md's reconnect procedure: every send stays in an outbox until
 * acked and is resent with the same clientId after a reconnect; each (re)connect sends the last id
 * per conversation; duplicates are dropped by id. It records what a chaos test needs to verify.
 */
export class ReliableClient {
  readonly socket: ChatClient;
  /** Every message:new in arrival order, per conversation (before dropping duplicates). */
  readonly arrivals = new Map<string, string[]>();
  readonly acked: Acked[] = [];
  /** Milliseconds from each disconnect to the next welcome. */
  readonly reconnectMs: number[] = [];
  readonly lastIds: Record<string, string> = {};
  instance = "";
  /** How many times a welcome arrived (each (re)connection), for diagnosing failures. */
  epoch = 0;
  readonly trace: { id: string; conversation: string; epoch: number; sid: string; at: number }[] = [];
  readonly welcomes: { at: number; instance: string; sid: string }[] = [];
  truncations = 0;
  private readonly outbox = new Map<string, Pending>();
  private disconnectedAt: number | undefined;
  private connected = false;

  constructor(
    url: string,
    cookie: string,
    readonly user: string,
  ) {
    this.socket = io(url, {
      extraHeaders: { cookie },
      transports: ["websocket"],
      reconnectionDelay: 200,
      reconnectionDelayMax: 2000,
      auth: (cb) => cb({ lastIds: { ...this.lastIds } }),
    });
    this.socket.on("welcome", (welcome) => {
      this.instance = welcome.instance;
      this.epoch++;
      this.welcomes.push({ at: Date.now(), instance: welcome.instance, sid: this.socket.id ?? "" });
      this.connected = true;
      if (this.disconnectedAt !== undefined) this.reconnectMs.push(Date.now() - this.disconnectedAt);
      this.disconnectedAt = undefined;
      for (const pending of this.outbox.values()) pending.inFlight = false;
      this.flush();
    });
    this.socket.on("disconnect", () => {
      this.connected = false;
      this.disconnectedAt ??= Date.now();
    });
    this.socket.on("message:new", (message) => this.receive(message));
    this.socket.on("history:truncated", ({ messages }) => {
      this.truncations++;
      for (const message of messages) this.receive(message);
    });
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.connected) return resolve();
      this.socket.once("welcome", () => resolve());
      this.socket.once("connect_error", reject);
    });
  }

  call<T>(event: string, payload: unknown): Promise<Ack<T>> {
    return (this.socket.timeout(5000) as unknown as { emitWithAck(e: string, p: unknown): Promise<Ack<T>> }).emitWithAck(event, payload);
  }

  send(to: string, text: string): void {
    const clientId = randomUUID();
    this.outbox.set(clientId, { to, text, clientId, inFlight: false });
    this.flush();
  }

  get unacked(): number {
    return this.outbox.size;
  }

  /** Sends whatever is not in flight; called on every send, every welcome and by the test's ticker. */
  flush(): void {
    if (!this.connected) return;
    for (const pending of this.outbox.values()) {
      if (pending.inFlight) continue;
      pending.inFlight = true;
      const { to, text, clientId } = pending;
      this.socket.timeout(3000).emit("message:send", { to, text, clientId }, (err: Error | null, ack?: Ack<{ id: string }>) => {
        if (!this.outbox.has(clientId)) return;
        if (err || !ack?.ok) {
          pending.inFlight = false; // timed out or refused for now (E_UNAVAILABLE...): retried later
          return;
        }
        this.outbox.delete(clientId);
        this.acked.push({ id: ack.data.id, to, from: this.user, clientId });
      });
    }
  }

  private receive(message: Message): void {
    this.trace.push({ id: message.id, conversation: message.conversation, epoch: this.epoch, sid: this.socket.id ?? "", at: Date.now() });
    const list = this.arrivals.get(message.conversation) ?? [];
    list.push(message.id);
    this.arrivals.set(message.conversation, list);
    const last = this.lastIds[message.conversation];
    if (last === undefined || compareIds(message.id, last) > 0) this.lastIds[message.conversation] = message.id;
  }

  close(): void {
    this.socket.close();
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}
