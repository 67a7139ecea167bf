/** One worker's numbers, as it reports them to the primary for GET /metrics. */
export interface MetricsSample {
  pid: number;
  sockets: number;
  httpRequests: number;
  messagesStored: number;
  messagesDelivered: number;
  sendsShed: number;
  liveReceived: number;
  liveGapFills: number;
  rssBytes: number;
  heapUsedBytes: number;
  cpuSeconds: number;
}

/** Counters a worker keeps; cheap increments on the hot path. */
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

  sample(sockets: number): MetricsSample {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      pid: process.pid,
      sockets,
      httpRequests: this.httpRequests,
      messagesStored: this.messagesStored,
      messagesDelivered: this.messagesDelivered,
      sendsShed: this.sendsShed,
      liveReceived: this.liveReceived,
      liveGapFills: this.liveGapFills,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  }
}

const FAMILIES: { key: keyof Omit<MetricsSample, "pid">; name: string; type: "gauge" | "counter"; help: string }[] = [
  { key: "sockets", name: "chat_sockets", type: "gauge", help: "Connected sockets." },
  { key: "httpRequests", name: "chat_http_requests_total", type: "counter", help: "HTTP requests answered by the app." },
  { key: "messagesStored", name: "chat_messages_stored_total", type: "counter", help: "Messages stored and acknowledged." },
  { key: "messagesDelivered", name: "chat_messages_delivered_total", type: "counter", help: "message:new sent to sockets." },
  {
    key: "sendsShed",
    name: "chat_sends_shed_total",
    type: "counter",
    help: "Sends refused (E_RATE_LIMITED) because the worker was saturated.",
  },
  {
    key: "liveReceived",
    name: "chat_live_messages_received_total",
    type: "counter",
    help: "Messages the worker's live subscriber received (conversations its sockets are in).",
  },
  { key: "liveGapFills", name: "chat_live_gap_fills_total", type: "counter", help: "Conversations read from their stream after a gap." },
  { key: "rssBytes", name: "process_resident_memory_bytes", type: "gauge", help: "Resident memory." },
  { key: "heapUsedBytes", name: "nodejs_heap_used_bytes", type: "gauge", help: "V8 heap in use." },
  { key: "cpuSeconds", name: "process_cpu_seconds_total", type: "counter", help: "User and system CPU time." },
];

/** Prometheus text exposition, one series per worker (label `worker` = its pid). */
export function renderMetrics(samples: readonly MetricsSample[]): string {
  const lines: string[] = [];
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of samples) lines.push(`${family.name}{worker="${sample.pid}"} ${sample[family.key]}`);
  }
  return `${lines.join("\n")}\n`;
}
