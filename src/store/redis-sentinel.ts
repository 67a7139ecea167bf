import type { DuplexOptions } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { ClientOfflineError, createSentinel, type RedisSentinelOptions, type RedisSentinelType, TimeoutError } from "@redis/client";
import type { SentinelConfig } from "../config.js";
import type { Logger } from "../lib/logger.js";
import { HANG_TIMEOUT_MS, oneServer, type Redis, type RedisClients, reconnectDelay, WRITE_BUFFER_BYTES } from "./redis.js";
import { SCRIPTS } from "./script-registry.js";

type NodeSocketOptions = NonNullable<NonNullable<RedisSentinelOptions["nodeClientOptions"]>["socket"]>;

/** How often the sentinels are asked for the topology besides their failover announcements. */
const SCAN_EVERY_MS = 5000;
const PROBE_EVERY_MS = 250;

/**
 * A Sentinel-managed primary through node-redis's createSentinel: it asks the sentinels for the
 * primary, listens to their failover announcements and moves every connection (commands, the
 * live and adapter pub/sub, which it re-subscribes) to the promoted replica.
 */
export async function connectSentinelClients(config: SentinelConfig, log: Logger): Promise<RedisClients> {
  const socket = { tls: config.tls, connectTimeout: 5000 } as const;
  // node-redis hands these on to net.createConnection, whose Socket takes a stream's options too.
  const nodeSocket: NodeSocketOptions & Pick<DuplexOptions, "writableHighWaterMark"> = {
    ...socket,
    reconnectStrategy: reconnectDelay,
    writableHighWaterMark: WRITE_BUFFER_BYTES,
  };
  const sentinel = createSentinel({
    name: config.name,
    sentinelRootNodes: [...config.sentinels],
    scripts: SCRIPTS,
    // One connection is reserved for the commands of every store, so a batch's WAIT runs on the
    // connection that wrote it.
    masterPoolSize: 1,
    reserveClient: true,
    scanInterval: SCAN_EVERY_MS,
    passthroughClientErrorEvents: true,
    // The gate below bounds every command; a per-command timer would cost CPU on each.
    commandOptions: { timeout: 0 },
    nodeClientOptions: {
      password: config.password,
      socket: nodeSocket,
    },
    sentinelClientOptions: { password: config.sentinelPassword, socket },
  });
  const gate = new PrimaryGate(() => sentinel.ping(), log);
  sentinel.on("error", (err: unknown) => gate.down(err instanceof Error ? err.message : String(err)));
  // A failover under way: node-redis holds commands until the new primary answers; fail them instead.
  sentinel.on("reconnecting", () => gate.down("failover under way"));
  let connected = false;
  sentinel.on("topology-change", (event: { type: string; node?: { host: string; port: number } }) => {
    if (connected && event.type === "MASTER_CHANGE") log.warn({ primary: event.node }, "redis primary changed");
  });
  try {
    await sentinel.connect(); // node-redis gives up (and closes) after maxCommandRediscovers tries
  } catch (err) {
    gate.close();
    throw err;
  }
  connected = true;
  const main: Redis = sentinel;
  log.info({ primary: sentinel.getMasterNode() }, "redis primary found through sentinel");

  const gatedMain = gated(main, gate);
  return {
    main: gatedMain,
    placement: oneServer(gatedMain),
    shardedAdapter: false,
    // The sentinel's pub/sub connection is re-subscribed after a failover; the primary answering
    // again (after any connection error, a failover included) is when what was published
    // meanwhile must be read from the streams.
    live: {
      client: gated<typeof sentinel>(sentinel, gate, new Set(["sSubscribe", "sUnsubscribe"])),
      onRestored: (listener) => gate.onUp(listener),
    },
    async adapterClients() {
      // The sentinel's pub/sub runs on a connection of its own that it re-subscribes after a failover.
      // The adapter also calls the publisher's event methods (on, off): only publishing is gated.
      return { pub: gated<typeof sentinel>(sentinel, gate, new Set(["publish"])), sub: sentinel };
    },
    async close() {
      gate.close();
      await closeSentinel(sentinel);
    },
  };
}

async function closeSentinel(sentinel: RedisSentinelType, timeoutMs = 2000): Promise<void> {
  const closed = sentinel.close().then(
    () => true,
    () => false,
  );
  const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  if (!(await Promise.race([closed, timer]))) await sentinel.destroy().catch(() => undefined);
}

interface Pending {
  since: number;
  reject(err: Error): void;
}

/**
 * Fails commands fast while the primary is unreachable, as a standalone client with its offline
 * queue disabled does: node-redis's Sentinel would hold them until a failover ends (seconds to
 * minutes, as the sentinels are configured), and a chat send must answer E_UNAVAILABLE at once so
 * the client retries. After any connection error the primary counts as down until a PING through
 * the Sentinel (which waits for the failover) answers. Commands already sent are bounded by
 * HANG_TIMEOUT_MS, checked by one timer for all of them.
 */
class PrimaryGate {
  #available = true;
  #probing = false;
  #closed = false;
  readonly #pending = new Set<Pending>();
  readonly #upListeners = new Set<() => void>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly probe: () => Promise<unknown>,
    private readonly log: Logger,
  ) {
    this.#timer = setInterval(() => this.#sweep(), PROBE_EVERY_MS);
    this.#timer.unref();
  }

  run<T>(command: () => Promise<T>): Promise<T> {
    if (!this.#available) return Promise.reject(new ClientOfflineError());
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { since: Date.now(), reject };
      this.#pending.add(entry);
      command().then(
        (value) => {
          this.#pending.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.#pending.delete(entry);
          reject(err);
        },
      );
    });
  }

  down(reason: string): void {
    if (this.#closed) return;
    if (this.#available) this.log.warn({ reason }, "redis primary unreachable; commands fail until it answers");
    this.#available = false;
    if (!this.#probing) void this.#probeUntilUp();
  }

  /** Calls `listener` each time the primary answers again after being down; returns its remover. */
  onUp(listener: () => void): () => void {
    this.#upListeners.add(listener);
    return () => this.#upListeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  async #probeUntilUp(): Promise<void> {
    this.#probing = true;
    const since = Date.now();
    while (!this.#closed) {
      try {
        await this.probe();
        this.#available = true;
        this.log.info({ downMs: Date.now() - since }, "redis primary answering again");
        for (const listener of this.#upListeners) listener();
        break;
      } catch {
        await sleep(PROBE_EVERY_MS);
      }
    }
    this.#probing = false;
  }

  /** The set is in insertion order, so the oldest commands come first. */
  #sweep(): void {
    const limit = Date.now() - HANG_TIMEOUT_MS;
    let expired = false;
    for (const entry of this.#pending) {
      if (entry.since > limit) break;
      this.#pending.delete(entry);
      entry.reject(new TimeoutError(`no reply from the redis primary in ${HANG_TIMEOUT_MS} ms`));
      expired = true;
    }
    if (expired) this.down("commands timed out");
  }
}

/**
 * The same object with its commands passed through the gate: every method, or only those named in
 * `only`. Wrappers are made once per name.
 */
function gated<T extends object>(target: T, gate: PrimaryGate, only?: ReadonlySet<PropertyKey>): T {
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== "function") return value;
      if (only && !only.has(property)) return value.bind(object);
      let wrapper = wrappers.get(property);
      if (wrapper === undefined) {
        wrapper = (...args: unknown[]) => gate.run(() => Reflect.apply(value, object, args) as Promise<unknown>);
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}
