/**
 * Messages typed but not yet acknowledged, keyed by clientId. Each stays pending until the server
 * acks it (or its own copy comes back as message:new); it is resent with the same clientId after a
 * reconnect or a transient error, and the server stores it once whatever the number of sends.
 * Kept in sessionStorage, so a reload of this tab resends what was still pending.
 *
 * One send at a time, in typing order: a burst typed while offline arrives in that order.
 *
 * A message the server refuses for good (too long, not allowed, no such user) is not retried: it
 * is handed back (`refused`) for the user to change, without a "Retry" that would fail again.
 */
import type { Connection } from "./connection.js";
import { RequestError } from "./connection.js";
import { readJson, removeKey, writeJson } from "./storage.js";

export interface OutboxEntry {
  clientId: string;
  to: string;
  text: string;
  createdAt: number;
  state: "pending" | "failed";
  /** Why a failed entry was refused, in words for the user. */
  error?: string;
}

export interface OutboxEvents {
  /** An entry was added, failed, or is pending again. */
  changed(entry: OutboxEntry): void;
  /** The server stored the entry under this id: it leaves the outbox. */
  confirmed(entry: OutboxEntry, id: string, ts: number): void;
  /** Refused for good: the entry stays, failed, until the user edits or discards it. */
  refused(entry: OutboxEntry): void;
}

/** The reason a permanent refusal is shown with, from the stable code and the server's words. */
export function describeRefusal(error: RequestError): string {
  const why: Partial<Record<RequestError["code"], string>> = {
    E_TOO_LONG: "too long",
    E_FORBIDDEN: "not allowed",
    E_NOT_FOUND: "no such conversation",
    E_INVALID: "not accepted",
  };
  const label = why[error.code];
  return label ? `${label} (${error.message})` : error.message;
}

const MAX_RETRY_DELAY_MS = 30_000;

export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();
  private sending: string | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;

  constructor(
    private readonly connection: Connection,
    private readonly storage: Storage | undefined,
    private readonly storageKey: string,
    private readonly events: OutboxEvents,
  ) {
    for (const entry of readJson<OutboxEntry[]>(storage, storageKey) ?? []) {
      if (entry && typeof entry.clientId === "string" && typeof entry.text === "string" && typeof entry.to === "string") {
        this.entries.set(entry.clientId, { ...entry, state: entry.state === "failed" ? "failed" : "pending" });
      }
    }
  }

  /** Oldest first. */
  list(to?: string): OutboxEntry[] {
    return [...this.entries.values()].filter((entry) => to === undefined || entry.to === to);
  }

  has(clientId: string): boolean {
    return this.entries.has(clientId);
  }

  add(to: string, text: string): OutboxEntry {
    const entry: OutboxEntry = { clientId: crypto.randomUUID(), to, text, createdAt: Date.now(), state: "pending" };
    this.entries.set(entry.clientId, entry);
    this.save();
    this.events.changed(entry);
    this.pump();
    return entry;
  }

  /** The message came back (ack or message:new): done, whichever arrives first. */
  confirm(clientId: string, id: string, ts: number): void {
    const entry = this.entries.get(clientId);
    if (!entry) return;
    this.entries.delete(clientId);
    this.save();
    this.events.confirmed(entry, id, ts);
  }

  get(clientId: string): OutboxEntry | undefined {
    return this.entries.get(clientId);
  }

  discard(clientId: string): void {
    this.entries.delete(clientId);
    this.save();
  }

  /** After every (re)connect: resend what is pending, at once. */
  resume(): void {
    this.retries = 0;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.pump();
  }

  /** Logout: typed text must not outlive the session on a shared computer. */
  clear(): void {
    this.entries.clear();
    removeKey(this.storage, this.storageKey);
  }

  private pump(): void {
    if (this.sending !== undefined || this.retryTimer !== undefined || !this.connection.connected) return;
    const next = [...this.entries.values()].find((entry) => entry.state === "pending");
    if (!next) return;
    this.sending = next.clientId;
    this.connection
      .request("message:send", { to: next.to, text: next.text, clientId: next.clientId })
      .then(
        ({ id, ts }) => {
          this.retries = 0;
          this.confirm(next.clientId, id, ts);
        },
        (error: unknown) => this.failed(next, error),
      )
      .finally(() => {
        this.sending = undefined;
        this.pump();
      });
  }

  private failed(entry: OutboxEntry, error: unknown): void {
    if (!this.entries.has(entry.clientId)) return;
    const requestError = error instanceof RequestError ? error : new RequestError("E_INTERNAL", String(error));
    if (requestError.code === "E_OFFLINE") return; // resume() resends on the next connect
    if (requestError.transient) {
      // Redis down, rate limited, or no answer: back off, then send the same clientId again.
      this.retries++;
      const ceiling = Math.min(MAX_RETRY_DELAY_MS, 1_000 * 2 ** Math.min(this.retries, 5));
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = undefined;
          this.pump();
        },
        ceiling / 2 + Math.random() * (ceiling / 2),
      );
      return;
    }
    entry.state = "failed";
    entry.error = describeRefusal(requestError);
    this.save();
    this.events.refused(entry);
  }

  private save(): void {
    if (this.entries.size === 0) removeKey(this.storage, this.storageKey);
    else writeJson(this.storage, this.storageKey, [...this.entries.values()]);
  }
}
