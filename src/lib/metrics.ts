import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";

/** Counters a worker keeps: plain increments on the hot path, read by prom-client when scraped. */
export class Counters {
  httpRequests = 0;
  messagesStored = 0;
  messagesDelivered = 0;
  /** Sends refused because the worker had SEND_MAX_IN_FLIGHT waiting already. */
  sendsShed = 0;
  /** Sends waiting on Redis right now. */
  sendsInFlight = 0;
  /** Messages this worker's live subscriber received: only those of conversations its sockets are in. */
  liveReceived = 0;
  /** Conversations read from their stream after a gap (or a resubscription). */
  liveGapFills = 0;
}

type CounterKey = "httpRequests" | "messagesStored" | "messagesDelivered" | "sendsShed" | "liveReceived" | "liveGapFills";

const COUNTERS: { key: CounterKey; name: string; help: string }[] = [
  { key: "httpRequests", name: "chat_http_requests_total", help: "HTTP requests answered by the app." },
  { key: "messagesStored", name: "chat_messages_stored_total", help: "Messages stored and acknowledged." },
  { key: "messagesDelivered", name: "chat_messages_delivered_total", help: "message:new sent to sockets." },
  { key: "sendsShed", name: "chat_sends_shed_total", help: "Sends refused (E_RATE_LIMITED) because the worker was saturated." },
  {
    key: "liveReceived",
    name: "chat_live_messages_received_total",
    help: "Messages the worker's live subscriber received (conversations its sockets are in).",
  },
  { key: "liveGapFills", name: "chat_live_gap_fills_total", help: "Conversations read from their stream after a gap." },
];

/**
 * One worker's prom-client registry: its chat counters, its connected sockets and Node's default
 * process metrics. Every series carries the label `worker` (the pid), so the host's aggregate
 * (primary/metrics.ts) keeps one series per worker instead of summing them.
 */
export function createMetricsRegistry(counters: Counters, sockets: () => number): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ worker: String(process.pid) });
  new Gauge({
    name: "chat_sockets",
    help: "Connected sockets.",
    registers: [registry],
    collect() {
      this.set(sockets());
    },
  });
  for (const { key, name, help } of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(counters[key]);
      },
    });
  }
  collectDefaultMetrics({ register: registry });
  return registry;
}
