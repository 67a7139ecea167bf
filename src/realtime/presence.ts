import type { Logger } from "../lib/logger.js";
import type { PresenceStore } from "../store/presence.js";
import type { ChatServer, RealtimeDeps } from "./context.js";
import { acked, type Listeners } from "./with-ack.js";

export function presenceListeners(deps: RealtimeDeps): Listeners {
  return {
    "presence:list": acked(deps.log, "presence:list", async () => ({ users: (await deps.presence.online()).sort() })),
  };
}

/** How long presence changes that follow one another are gathered into one broadcast. */
export const PRESENCE_BATCH_MS = 1000;

export interface Announcer {
  /** These users may have come online or gone offline: tell every socket, soon. */
  changed(users: readonly string[]): void;
  /** Announces what is gathered now (a worker about to close). */
  flush(): Promise<void>;
  /** Drops what is gathered and ignores later changes (the worker is closing). */
  stop(): void;
}

/**
 * Presence goes to every socket, so announcing each change by itself costs users × sockets writes
 * when many users come and go at once (a worker restart, a reconnect storm): that was most of a
 * worker's CPU while 10k sockets connected. A change after a quiet spell goes out at once; the
 * ones that follow within PRESENCE_BATCH_MS are gathered into one broadcast.
 *
 * Each worker tells only its own sockets, and relays the users that changed on it to the other
 * workers as they change (those of one event-loop turn together), which add them to their next
 * batch: a socket hears one batch per PRESENCE_BATCH_MS however many workers the cluster has,
 * where a broadcast from every worker to every socket cost workers × sockets writes per batch.
 *
 * What is announced is Redis's state at flush time, not the change a worker saw: workers flush
 * on their own clocks, so their batches can arrive out of order, but each one tells the truth.
 */
export function createAnnouncer(io: ChatServer, presence: PresenceStore, log: Logger, batchMs = PRESENCE_BATCH_MS): Announcer {
  /** Users to tell this worker's sockets about. */
  const pending = new Set<string>();
  /** Users that changed here since the last relay: the other workers must hear of them too. */
  const relay = new Set<string>();
  let relaying = false;
  let timer: NodeJS.Timeout | undefined;
  let lastFlush = 0;
  let stopped = false;

  const sendRelay = (): void => {
    relaying = false;
    if (relay.size > 0) io.serverSideEmit("presence:changed", [...relay]);
    relay.clear();
  };
  const flush = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    lastFlush = Date.now();
    sendRelay();
    const users = [...pending];
    pending.clear();
    if (users.length === 0) return;
    try {
      broadcast(io, users, await presence.areOnline(users));
    } catch (err) {
      // Lost with Redis: clients ask for presence:list again when they reconnect.
      log.warn({ err: (err as Error).message, users: users.length }, "presence announcement dropped");
    }
  };
  const gather = (users: readonly string[], here: boolean): void => {
    if (stopped) return;
    for (const user of users) {
      pending.add(user);
      if (here) relay.add(user);
    }
    if (relay.size > 0 && !relaying) {
      relaying = true;
      setImmediate(sendRelay);
    }
    if (pending.size === 0 || timer) return;
    timer = setTimeout(flush, Math.max(0, lastFlush + batchMs - Date.now()));
  };
  /** From the other workers; one of another version may send something else while a deploy rolls. */
  const relayed = (users: unknown): void => {
    if (!Array.isArray(users)) return;
    const names = users.filter((user): user is string => typeof user === "string");
    gather(names, false);
  };
  io.on("presence:changed", relayed);

  return {
    changed: (users) => gather(users, true),
    flush,
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      pending.clear();
      relay.clear();
    },
  };
}

function broadcast(io: ChatServer, users: string[], online: boolean[]): void {
  const [user] = users;
  if (users.length === 1 && user !== undefined) {
    io.local.emit("presence:update", { user, online: online[0] === true });
    return;
  }
  io.local.emit("presence:changes", {
    online: users.filter((_, i) => online[i]),
    offline: users.filter((_, i) => !online[i]),
  });
}

/**
 * Heartbeats this worker and sweeps workers that stopped heartbeating (crashed, or their host is
 * gone), announcing the users that went offline with them. Runs every third of the TTL.
 */
export function startPresenceHeartbeat(presence: PresenceStore, announcer: Announcer, ttlSeconds: number, log: Logger): () => void {
  let failing = false;
  const beat = async (): Promise<void> => {
    try {
      announcer.changed(await presence.heartbeat());
      announcer.changed(await presence.sweep());
      failing = false;
    } catch (err) {
      if (!failing) log.warn({ err: (err as Error).message }, "presence heartbeat failed");
      failing = true;
    }
  };
  const timer = setInterval(beat, (ttlSeconds * 1000) / 3);
  timer.unref();
  return () => clearInterval(timer);
}
