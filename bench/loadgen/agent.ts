/**
 * A load-generator process: holds up to ~15k benchmark sockets (the open-file limit is 20,000 and
 * cannot be raised), connects them, sends on a schedule and records what arrives. It is driven
 * over IPC by the orchestrator (pool.ts) and keeps no state between runs: one process per run.
 */
import { compareIds } from "../../src/domain/stream-ids.js";
import { getOrCreate } from "../lib/collections.js";
import { nowUs, sleep, sleepUntil } from "../lib/time.js";
import { BenchClient, type ClientHooks } from "./client.js";
import { readConversation, readId, readStamp, type Stamp } from "./payload.js";
import type {
  Command,
  ConnectionReport,
  ConnectOptions,
  ConnectReport,
  LoadPlan,
  LoadReport,
  Request,
  Response,
  Snapshot,
  VerifyReport,
} from "./protocol.js";
import { Recorder } from "./recorder.js";
import { Sender } from "./sender.js";

const agentId = Number(process.env.BENCH_AGENT_ID ?? 0);
/** Open handshakes per agent during the initial connect. */
const MAX_CONNECTING = 100;

let clients: BenchClient[] = [];
/** Clients closed for good by the scenario (B4's 10k become B5's 9k): no longer counted anywhere. */
const retired = new Set<BenchClient>();
const active = (): BenchClient[] => clients.filter((c) => !retired.has(c));
let options: ConnectOptions | undefined;
let plan: LoadPlan | undefined;
let sender: Sender | undefined;
const recorder = new Recorder();
let notConnected = 0;
let duplicates = 0;
/** Per socket, per conversation, the ids received (trackIds only). */
const received = new Map<BenchClient, Map<string, Set<string>>>();
const ackedIds = new Map<string, string[]>();
/** Every ok ack, per room, whichever plan sent it and whenever it arrived. */
const ackedPerRoom = new Map<string, number>();

const conn = { disconnects: 0, failedAttempts: 0, kicked: 0, outagesMs: [] as number[], failures: {} as Record<string, number> };

const stamp: Stamp = { bucket: 0, schedUs: 0 };

function remember(client: BenchClient, conversation: string, id: string): void {
  const rooms = getOrCreate(received, client, () => new Map<string, Set<string>>());
  const ids = getOrCreate(rooms, conversation, () => new Set<string>());
  if (ids.has(id)) duplicates++;
  else ids.add(id);
  const last = client.lastIds.get(conversation);
  if (last === undefined || compareIds(id, last) > 0) client.lastIds.set(conversation, id);
}

const hooks: ClientHooks = {
  onMessage(client, frame) {
    if (options?.trackIds) {
      const id = readId(frame);
      const conversation = readConversation(frame);
      if (id && conversation) remember(client, conversation, id);
    }
    if (!plan || !readStamp(frame, stamp) || stamp.schedUs < plan.t0Us) return; // not part of this plan
    recorder.onDelivered(stamp.bucket, nowUs() - stamp.schedUs);
  },
  onTruncated(client, payload) {
    // The replay was cut to the latest page: those are the messages this socket now holds.
    for (const message of payload.messages) remember(client, payload.conversation, message.id);
  },
  onReady(client, reconnect) {
    if (reconnect && client.downSince !== undefined) conn.outagesMs.push(Date.now() - client.downSince);
  },
  onDisconnect(client, reason) {
    conn.disconnects++;
    if (reason === "kicked") conn.kicked++;
    if (client.downSince === undefined) client.downSince = Date.now();
  },
  onFailure(_client, reason) {
    conn.failedAttempts++;
    conn.failures[reason] = (conn.failures[reason] ?? 0) + 1;
  },
};

async function connectAll(opts: ConnectOptions): Promise<ConnectReport> {
  options = opts;
  const started = Date.now();
  const failures: Record<string, number> = {};
  clients = opts.clients.map(
    (spec, index) =>
      new BenchClient({ index, user: spec.user, cookie: spec.cookie, url: opts.wsUrl, localAddress: spec.localAddress, hooks }),
  );
  for (const client of clients) {
    client.trackIds = opts.trackIds;
    client.resend = opts.resend;
  }
  // The initial connect is set-up, not a measurement: ramp at the given rate, but never with more
  // than MAX_CONNECTING handshakes open, so a server that admits connections slowly is fed as
  // fast as it can take them instead of drowning in handshakes that time out and retry.
  const t0 = nowUs();
  const intervalUs = 1e6 / Math.max(1, opts.connectPerSec);
  const pending: Promise<void>[] = [];
  const inFlight = new Set<Promise<void>>();
  const deadline = opts.deadlineMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.deadlineMs;
  for (const [i, client] of clients.entries()) {
    await sleepUntil(t0 + i * intervalUs);
    while (inFlight.size >= MAX_CONNECTING) await Promise.race(inFlight);
    if (Date.now() > deadline) {
      failures.deadline = clients.length - i;
      break;
    }
    const attempt = connectWithRetries(client, failures).finally(() => inFlight.delete(attempt));
    inFlight.add(attempt);
    pending.push(attempt);
  }
  await Promise.all(pending);
  const connected = clients.filter((c) => c.ready).length;
  const connectMs = Date.now() - started;

  const joinStarted = Date.now();
  const joinFailures: Record<string, number> = {};
  const jobs: [BenchClient, string][] = [];
  for (const [i, client] of clients.entries()) for (const room of opts.clients[i]?.rooms ?? []) jobs.push([client, room]);
  let next = 0;
  const joinWorker = async (): Promise<void> => {
    while (next < jobs.length) {
      const [client, room] = jobs[next++] as [BenchClient, string];
      await new Promise<void>((resolve) => {
        client.emit("room:join", { room }, (reply) => {
          if (!reply.ok) joinFailures[reply.error.code] = (joinFailures[reply.error.code] ?? 0) + 1;
          resolve();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(256, jobs.length) }, joinWorker));
  // Only now: an initial connect is not part of any storm, and a later loss must reconnect.
  for (const [i, client] of clients.entries()) {
    client.rejoin = opts.rejoin ? (opts.clients[i]?.rooms ?? []) : [];
    client.reconnect = opts.reconnect;
  }
  return { connected, failed: clients.length - connected, failures, joinFailures, connectMs, joinMs: Date.now() - joinStarted };
}

async function connectWithRetries(client: BenchClient, failures: Record<string, number>): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await client.connect();
      return;
    } catch (err) {
      const reason = (err as Error).message;
      failures[reason] = (failures[reason] ?? 0) + 1;
      await sleep(500);
    }
  }
}

function snapshot(): Snapshot {
  const cpu = process.cpuUsage();
  return {
    atUs: nowUs(),
    delivered: recorder.delivered,
    sent: recorder.sent,
    acked: recorder.acked,
    cpuUs: cpu.user + cpu.system,
    connected: active().filter((c) => c.ready).length,
    total: active().length,
    unacked: active().reduce((n, c) => n + c.unacked, 0),
  };
}

function connections(): ConnectionReport {
  const now = Date.now();
  const perWorker: Record<string, number> = {};
  const live = active();
  for (const client of live) {
    if (!client.ready) continue;
    const pid = client.instance.slice(client.instance.lastIndexOf("/") + 1);
    perWorker[pid] = (perWorker[pid] ?? 0) + 1;
  }
  return {
    perWorker,
    total: live.length,
    connected: live.filter((c) => c.ready).length,
    outagesMs: [...conn.outagesMs],
    openOutagesMs: live.filter((c) => !c.ready && c.downSince !== undefined).map((c) => now - (c.downSince ?? now)),
    disconnects: conn.disconnects,
    failedAttempts: conn.failedAttempts,
    failures: { ...conn.failures },
    kicked: conn.kicked,
  };
}

function verify(acked: Record<string, string[]>): VerifyReport {
  const missing = new Map<string, Set<string>>();
  let missingPairs = 0;
  let socketsDown = 0;
  for (const [i, client] of clients.entries()) {
    if (retired.has(client)) continue;
    const rooms = options?.clients[i]?.rooms ?? [];
    if (!client.ready) {
      if (rooms.some((room) => acked[room])) socketsDown++;
      continue;
    }
    for (const room of rooms) {
      const ids = acked[room];
      if (!ids) continue;
      const got = received.get(client)?.get(room);
      for (const id of ids) {
        if (got?.has(id)) continue;
        missingPairs++;
        getOrCreate(missing, room, () => new Set<string>()).add(id);
      }
    }
  }
  return { missing: Object.fromEntries([...missing].map(([room, ids]) => [room, [...ids]])), missingPairs, socketsDown };
}

function results(): LoadReport {
  return {
    buckets: recorder.report(),
    errors: { ...recorder.errors },
    notConnected,
    ackedIds: Object.fromEntries(ackedIds),
    duplicates,
  };
}

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case "connect":
      return connectAll(command.options);
    case "load":
      sender?.stop();
      recorder.reset();
      notConnected = 0;
      plan = command.plan;
      sender = undefined;
      // Without slots this agent only receives: its recorder counts the deliveries.
      if (plan.slots.length === 0) return undefined;
      sender = new Sender({
        plan,
        clients,
        recorder,
        agentId,
        onNotConnected: () => notConnected++,
        onAcked: (room, id) => {
          ackedPerRoom.set(room, (ackedPerRoom.get(room) ?? 0) + 1);
          if (options?.trackIds) getOrCreate(ackedIds, room, () => []).push(id);
        },
      });
      sender.start();
      return undefined;
    case "stopLoad":
      sender?.stop();
      return undefined;
    case "snapshot":
      return snapshot();
    case "results":
      return results();
    case "connections":
      return connections();
    case "resetConnections":
      conn.disconnects = 0;
      conn.failedAttempts = 0;
      conn.kicked = 0;
      conn.outagesMs = [];
      conn.failures = {};
      return undefined;
    case "verify":
      return verify(command.acked);
    case "ackedIn":
      return [...ackedPerRoom].reduce((n, [room, count]) => (room.startsWith(command.prefix) ? n + count : n), 0);
    case "retire":
      for (const index of command.clients) {
        const client = clients[index];
        if (!client) continue;
        client.close();
        retired.add(client);
      }
      return undefined;
    case "quiesce":
      sender?.stop();
      for (const client of clients) client.reconnect = false;
      return undefined;
    case "close":
      sender?.stop();
      for (const client of clients) client.close();
      setTimeout(() => process.exit(0), 50);
      return undefined;
  }
}

process.on("message", (message: Request) => {
  handle(message.command).then(
    (result) => process.send?.({ id: message.id, ok: true, result } satisfies Response),
    (err: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      } satisfies Response),
  );
});
// The orchestrator died: nothing left to report to.
process.on("disconnect", () => process.exit(0));
