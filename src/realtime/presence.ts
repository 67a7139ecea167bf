import type { Config } from "../config.js";
import { type DirectName, pairOf, peerOf, type RoomName, type StreamName, streamOf, userChannel, usernameKey } from "../domain/names.js";
import type { Logger } from "../lib/logger.js";
import type { PresenceStore } from "../store/presence.js";
import type { ChatServer, RealtimeDeps } from "./context.js";
import { acked, type Listeners } from "./with-ack.js";

/** What presence reads: who is online, and which conversations carry a user's presence. */
export type PresenceDeps = Pick<RealtimeDeps, "presence" | "rooms" | "log"> & { config: Pick<Config, "presenceRoomMax"> };

/**
 * The conversations that carry a user's presence to others: every direct conversation, and each
 * room of up to PRESENCE_ROOM_MAX members. A larger room (#general of a large deployment) does
 * not, so a worker hears of a user only when one of its sockets shares a conversation with them.
 */
async function circleOf(user: string, deps: PresenceDeps): Promise<{ rooms: RoomName[]; directs: DirectName[] }> {
  const [joined, directs] = await Promise.all([deps.rooms.roomsOf(user), deps.rooms.directsOf(user)]);
  const counts = await deps.rooms.memberCounts(joined);
  return { rooms: joined.filter((_, i) => (counts[i] ?? 0) <= deps.config.presenceRoomMax), directs };
}

async function conversationsOf(user: string, deps: PresenceDeps): Promise<StreamName[]> {
  const { rooms, directs } = await circleOf(user, deps);
  return [...rooms, ...directs.map((peer) => streamOf(peer, user))];
}

/** Who of the people the user shares such a conversation with, the user included, is online now. */
async function onlineAround(user: string, deps: PresenceDeps): Promise<string[]> {
  const { rooms, directs } = await circleOf(user, deps);
  const members = await Promise.all(rooms.map((room) => deps.rooms.membersOf(room)));
  const people = new Map<string, string>([[usernameKey(user), user]]);
  for (const name of [...members.flat(), ...directs.map(peerOf)]) people.set(usernameKey(name), name);
  const names = [...people.values()];
  const online = await deps.presence.areOnline(names);
  return names.filter((_, i) => online[i]).sort();
}

export function presenceListeners(deps: PresenceDeps): Listeners {
  return {
    "presence:list": acked(deps.log, "presence:list", async (socket) => ({ users: await onlineAround(socket.data.user, deps) })),
  };
}

/** How long presence changes that follow one another are gathered into one broadcast. */
export const PRESENCE_BATCH_MS = 1000;

export interface Announcer {
  /** These users may have come online or gone offline here: tell the conversations they are in, soon. */
  changed(users: readonly string[]): void;
  /** These members of a conversation this worker follows may have changed: tell its sockets, soon. */
  heard(stream: StreamName, users: readonly string[]): void;
  /** Announces what is gathered now (a worker about to close). */
  flush(): Promise<void>;
  /** Drops what is gathered and ignores later changes (the worker is closing). */
  stop(): void;
}

/** The socket.io rooms of a conversation's sockets here: a room's own, or both users' of a DM pair. */
const channelsOf = (stream: StreamName): string[] => pairOf(stream)?.map(userChannel) ?? [stream];

/**
 * A user's change is published, by the worker that saw it, on the live channel of each
 * conversation that carries their presence (those of one event-loop turn together). Only the
 * workers with a socket in one of them hear it, and tell those sockets.
 *
 * Announcing each change by itself would cost users × sockets writes when many users come and go
 * at once (a worker restart, a reconnect storm), enough to take most of a worker's CPU while
 * thousands of sockets connect. A change after a quiet spell goes out at once; the ones heard
 * within PRESENCE_BATCH_MS after it are gathered into one broadcast per group of sockets.
 *
 * What is announced is Redis's state at flush time, not the change a worker saw: workers flush
 * on their own clocks, so their batches can arrive out of order, but each one tells the truth.
 */
export function createAnnouncer(
  io: ChatServer,
  deps: PresenceDeps,
  publish: (stream: StreamName, users: readonly string[]) => void,
  batchMs = PRESENCE_BATCH_MS,
): Announcer {
  const { presence, log } = deps;
  /** Users to tell this worker's sockets about, with the conversations they were heard on. */
  const pending = new Map<string, Set<StreamName>>();
  /** Users that changed here since the last publish. */
  const relay = new Set<string>();
  let relaying: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastFlush = 0;
  let stopped = false;

  const route = async (users: string[]): Promise<void> => {
    const byStream = new Map<StreamName, string[]>();
    const streams = await Promise.all(users.map((user) => conversationsOf(user, deps)));
    users.forEach((user, i) => {
      for (const stream of streams[i] ?? []) {
        const names = byStream.get(stream) ?? [];
        byStream.set(stream, names);
        names.push(user);
      }
    });
    for (const [stream, names] of byStream) publish(stream, names);
  };
  const sendRelay = (): Promise<void> => {
    relaying ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        const users = [...relay];
        relay.clear();
        relaying = undefined;
        return users.length === 0 ? undefined : route(users);
      })
      // Lost with Redis: clients ask for presence:list again when they reconnect.
      .catch((err: Error) => log.warn({ err: err.message }, "presence change not announced"));
    return relaying;
  };
  const tell = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    lastFlush = Date.now();
    const heard = [...pending];
    pending.clear();
    if (heard.length === 0 || io.of("/").sockets.size === 0) return;
    try {
      const online = await presence.areOnline(heard.map(([user]) => user));
      // Users heard on the same conversations go to the same sockets: one broadcast each.
      const groups = new Map<string, { streams: StreamName[]; users: string[]; online: boolean[] }>();
      heard.forEach(([user, streams], i) => {
        const key = [...streams].sort().join(" ");
        const group = groups.get(key) ?? { streams: [...streams], users: [], online: [] };
        groups.set(key, group);
        group.users.push(user);
        group.online.push(online[i] === true);
      });
      for (const group of groups.values()) broadcast(io, group.streams.flatMap(channelsOf), group.users, group.online);
    } catch (err) {
      // Lost with Redis: clients ask for presence:list again when they reconnect.
      log.warn({ err: (err as Error).message, users: heard.length }, "presence announcement dropped");
    }
  };

  return {
    changed(users) {
      if (stopped || users.length === 0) return;
      for (const user of users) relay.add(user);
      void sendRelay();
    },
    heard(stream, users) {
      if (stopped) return;
      for (const user of users) {
        const streams = pending.get(user) ?? new Set<StreamName>();
        pending.set(user, streams.add(stream));
      }
      if (pending.size === 0 || timer) return;
      timer = setTimeout(tell, Math.max(0, lastFlush + batchMs - Date.now()));
    },
    async flush() {
      await (relaying ?? Promise.resolve());
      await tell();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      pending.clear();
      relay.clear();
    },
  };
}

function broadcast(io: ChatServer, channels: string[], users: string[], online: boolean[]): void {
  const sockets = io.local.to(channels);
  const [user] = users;
  if (users.length === 1 && user !== undefined) {
    sockets.emit("presence:update", { user, online: online[0] === true });
    return;
  }
  sockets.emit("presence:changes", {
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
