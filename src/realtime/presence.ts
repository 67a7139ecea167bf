import type { Logger } from "../lib/logger.js";
import type { PresenceStore } from "../store/presence.js";
import type { PresenceNotices } from "../store/presence-notices.js";
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
 * when many users come and go at once (a worker restart, a reconnect storm), enough to take most
 * of a worker's CPU while thousands of sockets connect. A change after a quiet spell goes out at
 * once; the ones that follow within PRESENCE_BATCH_MS are gathered into one broadcast.
 *
 * Each worker tells only its own sockets, and publishes the users that changed on it as they
 * change (those of one event-loop turn together) to the workers that have sockets, which add them
 * to their next batch: a socket hears one batch per PRESENCE_BATCH_MS however many workers the
 * cluster has, and a worker without sockets hears nothing at all.
 *
 * What is announced is Redis's state at flush time, not the change a worker saw: workers flush
 * on their own clocks, so their batches can arrive out of order, but each one tells the truth.
 */
export function createAnnouncer(
  io: ChatServer,
  presence: PresenceStore,
  openNotices: (heard: (users: string[]) => void) => PresenceNotices,
  log: Logger,
  batchMs = PRESENCE_BATCH_MS,
): Announcer {
  /** Users to tell this worker's sockets about. */
  const pending = new Set<string>();
  /** Users that changed here since the last publish: the other workers must hear of them too. */
  const relay = new Set<string>();
  let relaying = false;
  let timer: NodeJS.Timeout | undefined;
  let lastFlush = 0;
  let stopped = false;

  const sendRelay = (): void => {
    relaying = false;
    notices.publish([...relay]);
    relay.clear();
  };
  const flush = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    lastFlush = Date.now();
    sendRelay();
    const users = [...pending];
    pending.clear();
    if (users.length === 0 || io.of("/").sockets.size === 0) return;
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
  const notices = openNotices((users) => gather(users, false));
  // Heard only while this worker has sockets. The subscription is asked for as the first socket
  // connects, on the connection its set-up's own subscriptions use after it, so it is in place by
  // the time the client is welcomed and lists who is online.
  // One listener for every socket: a closure each would be kept by every idle connection.
  const whenGone = (): void => {
    if (io.of("/").sockets.size === 0) notices.listen(false);
  };
  io.on("connection", (socket) => {
    notices.listen(true);
    socket.on("disconnect", whenGone);
  });

  return {
    changed: (users) => gather(users, true),
    flush,
    stop() {
      stopped = true;
      notices.stop();
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
