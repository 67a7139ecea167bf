/**
 * The messages between the orchestrator (bench/run.ts, via pool.ts) and a load-generator agent
 * process (agent.ts). Agents hold the sockets; the orchestrator owns the plan and the clock.
 */

export interface ClientSpec {
  user: string;
  cookie: string;
  /** Rooms this socket joins (the reference needs every socket to join; the project joins users). */
  rooms: string[];
  /** 127.0.0.x: spreads source ports over addresses (≈28k ephemeral ports per address). */
  localAddress: string;
}

export interface ConnectOptions {
  /** ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket */
  wsUrl: string;
  clients: ClientSpec[];
  /** Connection ramp of this agent; the pool keeps the sum ≤ 2k/s (SYN backlog, see pool.ts). */
  connectPerSec: number;
  /** Keep message ids per socket, send auth.lastIds, verify losses (B5). */
  trackIds: boolean;
  /** Resend unacked messages after a reconnect (the project's delivery rule). */
  resend: boolean;
  /** Join the rooms again after a reconnect (the reference forgets memberships). */
  rejoin: boolean;
  /** Reconnect lost connections like the project's browser client. */
  reconnect: boolean;
  /** Stop starting new connections after this long (ms): a scenario stays bounded on a slow server. */
  deadlineMs?: number;
}

export interface ConnectReport {
  connected: number;
  failed: number;
  failures: Record<string, number>;
  joinFailures: Record<string, number>;
  connectMs: number;
  joinMs: number;
}

export interface Segment {
  durationMs: number;
  /** Messages per second offered by this agent during the segment (0 = pause). */
  rate: number;
}

export interface Slot {
  /** Index into the agent's clients. */
  client: number;
  room: string;
}

export interface LoadPlan {
  /** Monotonic µs (lib/time.ts) at which the first segment starts, the same for every agent. */
  t0Us: number;
  /** Messages are tagged with floor((sched - t0) / bucketMs): results are kept per bucket. */
  bucketMs: number;
  segments: Segment[];
  /** Who sends where, used round-robin. */
  slots: Slot[];
  /** Sockets that receive a message sent to a room (members' sockets, the sender's included). */
  fanout: Record<string, number>;
  textBytes: number;
  /** "edit": each slot sends one message, then edits it again and again (deliveries are message:edited). */
  event?: "edit";
}

export interface Snapshot {
  atUs: number;
  delivered: number;
  sent: number;
  acked: number;
  /** This agent's own CPU, µs (process.cpuUsage). */
  cpuUs: number;
  connected: number;
  total: number;
  unacked: number;
}

export interface BucketReport {
  bucket: number;
  sent: number;
  expected: number;
  acked: number;
  ackFailed: number;
  delivered: number;
  /** Encoded HdrHistograms (µs): delivery latency from the scheduled send time, and ack latency. */
  latency: string;
  ackLatency: string;
}

export interface LoadReport {
  buckets: BucketReport[];
  errors: Record<string, number>;
  /** Sends that found their socket disconnected (not resendable), so never went out. */
  notConnected: number;
  /** Acked message ids per room (trackIds only). */
  ackedIds: Record<string, string[]>;
  duplicates: number;
}

export interface ConnectionReport {
  total: number;
  connected: number;
  /** Outages that ended with a welcome, in ms, from the loss to the welcome. */
  outagesMs: number[];
  /** Outages still open, with their age in ms. */
  openOutagesMs: number[];
  disconnects: number;
  failedAttempts: number;
  failures: Record<string, number>;
  /** Server-side disconnects ("41"); the project's client reconnects after them, so do we. */
  kicked: number;
  /** Connected sockets per serving worker pid (from `welcome.instance`). */
  perWorker: Record<string, number>;
}

export interface VerifyReport {
  /** Per room, the acked ids that at least one connected member socket of this agent never received. */
  missing: Record<string, string[]>;
  /** (socket, message) pairs missing at connected sockets. */
  missingPairs: number;
  /** Member sockets not connected at verification time: what they miss is not counted as lost. */
  socketsDown: number;
}

export type Command =
  | { cmd: "connect"; options: ConnectOptions }
  | { cmd: "load"; plan: LoadPlan }
  | { cmd: "stopLoad" }
  | { cmd: "snapshot" }
  | { cmd: "results" }
  | { cmd: "connections" }
  | { cmd: "resetConnections" }
  | { cmd: "verify"; acked: Record<string, string[]> }
  | { cmd: "retire"; clients: number[] }
  /** Sends acked so far (since the agent started) to rooms whose name starts with `prefix`. */
  | { cmd: "ackedIn"; prefix: string }
  | { cmd: "quiesce" }
  | { cmd: "close" };

export type CommandName = Command["cmd"];

export interface Results {
  connect: ConnectReport;
  load: undefined;
  stopLoad: undefined;
  snapshot: Snapshot;
  results: LoadReport;
  connections: ConnectionReport;
  resetConnections: undefined;
  verify: VerifyReport;
  retire: undefined;
  ackedIn: number;
  quiesce: undefined;
  close: undefined;
}

export interface Request {
  id: number;
  command: Command;
}

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
