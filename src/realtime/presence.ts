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
 * What is announced is Redis's state at flush time, not the change this worker saw: workers flush
 * on their own clocks, so their batches can arrive out of order, but each one tells the truth.
 */
export function createAnnouncer(io: ChatServer, presence: PresenceStore, log: Logger, batchMs = PRESENCE_BATCH_MS): Announcer {
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let lastFlush = 0;
  let stopped = false;

  const flush = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    lastFlush = Date.now();
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

  return {
    changed(users) {
      if (stopped) return;
      for (const user of users) pending.add(user);
      if (pending.size === 0 || timer) return;
      timer = setTimeout(flush, Math.max(0, lastFlush + batchMs - Date.now()));
    },
    flush,
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      pending.clear();
    },
  };
}

function broadcast(io: ChatServer, users: string[], online: boolean[]): void {
  const [user] = users;
  if (users.length === 1 && user !== undefined) {
    io.emit("presence:update", { user, online: online[0] === true });
    return;
  }
  io.emit("presence:changes", {
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
