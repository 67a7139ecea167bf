import type { Logger } from "../lib/logger.js";
import type { PresenceStore } from "../store/presence.js";
import type { ChatServer, ChatSocket, RealtimeDeps } from "./context.js";
import { withAck } from "./with-ack.js";

export function registerPresence(socket: ChatSocket, deps: RealtimeDeps): void {
  socket.on(
    "presence:list",
    withAck(deps.log, "presence:list", async () => ({ users: (await deps.presence.online()).sort() })),
  );
}

export function announce(io: ChatServer, users: readonly string[], online: boolean): void {
  for (const user of users) io.emit("presence:update", { user, online });
}

/**
 * Heartbeats this worker and sweeps workers that stopped heartbeating (crashed, or their host is
 * gone), announcing the users that went offline with them. Runs every third of the TTL.
 */
export function startPresenceHeartbeat(io: ChatServer, presence: PresenceStore, ttlSeconds: number, log: Logger): () => void {
  let failing = false;
  const beat = async (): Promise<void> => {
    try {
      announce(io, await presence.heartbeat(), true);
      announce(io, await presence.sweep(), false);
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
