/**
 * The orchestrator's handle on its load-generator processes: spawns them (optionally pinned with
 * taskset), splits clients and rates between them, and merges what they report.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { unionLists } from "../lib/collections.js";
import { PATHS } from "../lib/paths.js";
import { childEnv, pinned } from "../lib/target.js";
import { nowUs } from "../lib/time.js";
import type {
  ClientSpec,
  Command,
  CommandName,
  ConnectionReport,
  ConnectOptions,
  ConnectReport,
  LoadPlan,
  LoadReport,
  Request,
  Response,
  Results,
  Slot,
  Snapshot,
  VerifyReport,
} from "./protocol.js";

/** At most this many sockets per process: the open-file limit is 20,000 (hard). */
export const MAX_SOCKETS_PER_AGENT = 15_000;
/** Total connection ramp: somaxconn 4096 / syn backlog 2048 punish bursts with 1 s SYN retries. */
export const MAX_CONNECT_PER_SEC = 2000;

class Agent {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private readonly exited: Promise<unknown>;

  constructor(
    readonly id: number,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (message: Response) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`agent ${id}: ${message.error}`));
    });
    this.exited = once(child, "exit");
    child.on("exit", (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`agent ${id} exited (${code})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  call<C extends Command>(command: C): Promise<Results[C["cmd"] & CommandName]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, command } satisfies Request, (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.call({ cmd: "close" }).catch(() => {});
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface PoolOptions {
  agents: number;
  /** taskset CPU list for the agents, or undefined. */
  cpus?: string;
}

export class AgentPool {
  private constructor(
    private readonly agents: Agent[],
    /** Which clients (global indexes) each agent holds. */
    private clientsOf: number[][] = [],
  ) {}

  static start(options: PoolOptions): AgentPool {
    const agents = Array.from({ length: options.agents }, (_, id) => {
      const [command, args] = pinned(options.cpus, process.execPath, ["--max-old-space-size=4096", PATHS.agent]);
      const child = spawn(command, args, {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        serialization: "advanced",
        env: childEnv({ BENCH_AGENT_ID: String(id) }),
      });
      return new Agent(id, child);
    });
    return new AgentPool(agents);
  }

  get pids(): number[] {
    return this.agents.map((a) => a.pid);
  }

  get size(): number {
    return this.agents.length;
  }

  /** Deals clients round-robin to the agents and connects them all at ≤ MAX_CONNECT_PER_SEC overall. */
  async connect(
    wsUrl: string,
    clients: ClientSpec[],
    flags: Omit<ConnectOptions, "wsUrl" | "clients" | "connectPerSec">,
  ): Promise<ConnectReport> {
    if (clients.length > this.agents.length * MAX_SOCKETS_PER_AGENT) {
      throw new Error(`${clients.length} sockets need more than ${this.agents.length} agents`);
    }
    this.clientsOf = this.agents.map(() => []);
    for (let i = 0; i < clients.length; i++) this.clientsOf[i % this.agents.length]?.push(i);
    const reports = await Promise.all(
      this.agents.map((agent, a) =>
        agent.call({
          cmd: "connect",
          options: {
            ...flags,
            wsUrl,
            clients: (this.clientsOf[a] ?? []).map((i) => clients[i] as ClientSpec),
            connectPerSec: MAX_CONNECT_PER_SEC / this.agents.length,
          },
        }),
      ),
    );
    return {
      connected: sum(reports.map((r) => r.connected)),
      failed: sum(reports.map((r) => r.failed)),
      failures: mergeCounts(reports.map((r) => r.failures)),
      joinFailures: mergeCounts(reports.map((r) => r.joinFailures)),
      connectMs: Math.max(...reports.map((r) => r.connectMs)),
      joinMs: Math.max(...reports.map((r) => r.joinMs)),
    };
  }

  /**
   * Starts a plan on every agent at `startInMs` from now. `slots` use global client indexes;
   * each agent gets its own slots and a share of each segment's rate proportional to them. An
   * agent without slots gets the plan too: its sockets receive, and their deliveries count.
   */
  async load(plan: Omit<LoadPlan, "t0Us" | "slots">, slots: Slot[], startInMs = 200): Promise<number> {
    const t0Us = nowUs() + startInMs * 1000;
    const local = this.agents.map(() => [] as Slot[]);
    const owner = new Map<number, [number, number]>();
    for (const [a, list] of this.clientsOf.entries()) for (const [l, g] of list.entries()) owner.set(g, [a, l]);
    for (const slot of slots) {
      const found = owner.get(slot.client);
      if (!found) throw new Error(`slot for unknown client ${slot.client}`);
      local[found[0]]?.push({ client: found[1], room: slot.room });
    }
    await Promise.all(
      this.agents.map((agent, a) => {
        const mine = local[a] ?? [];
        const share = slots.length > 0 ? mine.length / slots.length : 0;
        return agent.call({
          cmd: "load",
          plan: { ...plan, t0Us, slots: mine, segments: plan.segments.map((s) => ({ durationMs: s.durationMs, rate: s.rate * share })) },
        });
      }),
    );
    return t0Us;
  }

  async stopLoad(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.call({ cmd: "stopLoad" })));
  }

  snapshots(): Promise<Snapshot[]> {
    return Promise.all(this.agents.map((a) => a.call({ cmd: "snapshot" })));
  }

  /** Acks received by every agent, ever, for sends to rooms starting with `prefix` (late ones included). */
  async ackedIn(prefix: string): Promise<number> {
    return sum(await Promise.all(this.agents.map((a) => a.call({ cmd: "ackedIn", prefix }))));
  }

  results(): Promise<LoadReport[]> {
    return Promise.all(this.agents.map((a) => a.call({ cmd: "results" })));
  }

  async connections(): Promise<ConnectionReport> {
    const reports = await Promise.all(this.agents.map((a) => a.call({ cmd: "connections" })));
    return {
      total: sum(reports.map((r) => r.total)),
      connected: sum(reports.map((r) => r.connected)),
      outagesMs: reports.flatMap((r) => r.outagesMs),
      openOutagesMs: reports.flatMap((r) => r.openOutagesMs),
      disconnects: sum(reports.map((r) => r.disconnects)),
      failedAttempts: sum(reports.map((r) => r.failedAttempts)),
      failures: mergeCounts(reports.map((r) => r.failures)),
      kicked: sum(reports.map((r) => r.kicked)),
      perWorker: mergeCounts(reports.map((r) => r.perWorker)),
    };
  }

  /** The worker pid serving the most of our sockets (the one to kill for the biggest storm). */
  async busiestWorker(): Promise<number | undefined> {
    const { perWorker } = await this.connections();
    const [pid] = Object.entries(perWorker).sort(([, a], [, b]) => b - a)[0] ?? [];
    return pid === undefined || !/^\d+$/.test(pid) ? undefined : Number(pid);
  }

  async resetConnections(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.call({ cmd: "resetConnections" })));
  }

  async verify(acked: Record<string, string[]>): Promise<VerifyReport> {
    const reports = await Promise.all(this.agents.map((a) => a.call({ cmd: "verify", acked })));
    return {
      missing: unionLists(reports.map((r) => r.missing)),
      missingPairs: sum(reports.map((r) => r.missingPairs)),
      socketsDown: sum(reports.map((r) => r.socketsDown)),
    };
  }

  /** Closes these clients (global indexes) for good; they drop out of every count. */
  async retire(globalIndexes: readonly number[]): Promise<void> {
    const wanted = new Set(globalIndexes);
    await Promise.all(
      this.agents.map((agent, a) => {
        const local = (this.clientsOf[a] ?? []).flatMap((g, l) => (wanted.has(g) ? [l] : []));
        return local.length > 0 ? agent.call({ cmd: "retire", clients: local }) : Promise.resolve(undefined);
      }),
    );
  }

  /** Stops sending and reconnecting: the server may go away now without a storm. */
  async quiesce(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.call({ cmd: "quiesce" }).catch(() => undefined)));
  }

  async close(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.close()));
  }
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export function mergeCounts(list: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const counts of list) for (const [k, v] of Object.entries(counts)) out[k] = (out[k] ?? 0) + v;
  return out;
}
