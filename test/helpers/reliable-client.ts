import { randomUUID } from "node:crypto";
import { io } from "socket.io-client";
import { compareIds } from "../../src/domain/stream-ids.js";
import type { Ack } from "../../src/realtime/events.js";
import type { ChatClient } from "./clients.js";

type Kind = "message" | "edit" | "delete";

const EVENTS: Record<Kind, string> = { message: "message:send", edit: "message:edit", delete: "message:delete" };

interface Pending {
  kind: Kind;
  to: string;
  payload: Record<string, unknown>;
  clientId: string;
  inFlight: boolean;
}

/** A stream entry the server acknowledged: a message, or an edit or deletion of one. */
export interface Acked {
  id: string;
  to: string;
  from: string;
  clientId: string;
  kind: Kind;
}

/**
 * A client that follows docs/protocol.md's reconnect procedure: every send stays in an outbox until
 * acked and is resent with the same clientId after a reconnect; each (re)connect sends the last id
 * per conversation; duplicates are dropped by id. It records what a chaos test needs to verify.
 */
export class ReliableClient {
  readonly socket: ChatClient;
  /**
   * Every message:new, message:edited and message:deleted in arrival order, per conversation
   * (before dropping duplicates): all are entries of one stream, so one order.
   */
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
  /** Own messages already edited or deleted (or about to be): each is changed at most once. */
  private readonly changed = new Set<string>();
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
    this.socket.on("message:edited", (edit) => this.receive(edit));
    this.socket.on("message:deleted", (deletion) => this.receive(deletion));
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
    this.outbox.set(clientId, { kind: "message", to, payload: { to, text, clientId }, clientId, inFlight: false });
    this.flush();
  }

  /**
   * Edits or deletes one of this client's acknowledged messages that was not changed yet; false if
   * there is none. A message is never both edited and deleted: a catch-up leaves out the edits of a
   * deleted message, so such an edit would not be seen by everyone.
   */
  change(kind: "edit" | "delete"): boolean {
    const target = this.acked.find((entry) => entry.kind === "message" && !this.changed.has(entry.id));
    if (target === undefined) return false;
    this.changed.add(target.id);
    const clientId = randomUUID();
    const payload = { conversation: target.to, id: target.id, clientId, ...(kind === "edit" ? { text: `edited ${target.id}` } : {}) };
    this.outbox.set(clientId, { kind, to: target.to, payload, clientId, inFlight: false });
    this.flush();
    return true;
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
      const { kind, to, payload, clientId } = pending;
      const emitter = this.socket.timeout(3000) as unknown as {
        emit(event: string, payload: unknown, ack: (err: Error | null, ack?: Ack<{ id: string }>) => void): void;
      };
      emitter.emit(EVENTS[kind], payload, (err, ack) => {
        if (!this.outbox.has(clientId)) return;
        if (err || !ack?.ok) {
          pending.inFlight = false; // timed out or refused for now (E_UNAVAILABLE...): retried later
          return;
        }
        this.outbox.delete(clientId);
        this.acked.push({ id: ack.data.id, to, from: this.user, clientId, kind });
      });
    }
  }

  private receive(message: { id: string; conversation: string }): void {
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
