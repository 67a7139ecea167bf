import type { Config } from "../config.js";
import { userChannel } from "../domain/names.js";
import type { Logger } from "../lib/logger.js";
import type { SessionKeeper } from "../store/sessions.js";
import type { ChatServer } from "./context.js";

/**
 * Tells this worker's sockets of a session that it ended, then disconnects them. They are found
 * among their user's sockets: a room per session would cost every idle socket memory (B4).
 */
export function endLocalSession(io: ChatServer, user: string, sessionId: string): void {
  const nsp = io.of("/");
  for (const id of [...(nsp.adapter.rooms.get(userChannel(user)) ?? [])]) {
    const socket = nsp.sockets.get(id);
    if (socket?.data.sessionId !== sessionId) continue;
    socket.emit("session:ended");
    socket.disconnect(true);
  }
}

/**
 * Each worker watches its own sockets. An open socket makes no HTTP requests: one whose client
 * sent an event within the idle timeout keeps its session alive, as a request would. This also
 * ends the sockets of sessions that idled out, were destroyed elsewhere, or passed the absolute
 * timeout.
 */
export function startSessionWatch(io: ChatServer, keeper: SessionKeeper, config: Config, log: Logger): () => void {
  const check = async (): Promise<void> => {
    const now = Date.now();
    const expired = new Set<string>();
    const active = new Set<string>();
    const idle = new Set<string>();
    /** Each session's user: a session belongs to one. */
    const users = new Map<string, string>();
    for (const socket of io.of("/").sockets.values()) {
      const { user, sessionId, sessionCreatedAt, activeAt } = socket.data;
      if (!sessionId) continue;
      users.set(sessionId, user);
      if (now - sessionCreatedAt > config.sessionAbsoluteSeconds * 1000) expired.add(sessionId);
      else if (now - activeAt < config.sessionIdleSeconds * 1000) active.add(sessionId);
      else idle.add(sessionId);
    }
    const end = (id: string): void => endLocalSession(io, users.get(id) ?? "", id);
    for (const id of expired) {
      await keeper.destroy(id);
      end(id);
    }
    for (const id of active) idle.delete(id);
    const [live, remaining] = await Promise.all([keeper.keepAlive([...active]), keeper.existing([...idle])]);
    for (const id of active) if (!live.has(id)) end(id);
    for (const id of idle) if (!remaining.has(id)) end(id);
  };
  const timer = setInterval(() => {
    check().catch((err: Error) => log.warn({ err: err.message }, "session check failed"));
  }, config.sessionCheckIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
