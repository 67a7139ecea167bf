import type { Config } from "../config.js";
import type { Logger } from "../lib/logger.js";
import type { SessionKeeper } from "../store/sessions.js";
import { type ChatServer, sessionChannel } from "./context.js";

/** Tells this worker's sockets of a session that it ended, then disconnects them. */
export function endLocalSession(io: ChatServer, sessionId: string): void {
  const sockets = io.local.in(sessionChannel(sessionId));
  sockets.emit("session:ended");
  sockets.disconnectSockets(true);
}

/**
 * Each worker watches its own sockets. An open socket makes no HTTP requests: one whose client sent an event within the idle timeout
 * keeps its session alive, as a request would. This also ends the sockets of sessions that idled
 * out, were destroyed elsewhere, or passed the absolute timeout.
 */
export function startSessionWatch(io: ChatServer, keeper: SessionKeeper, config: Config, log: Logger): () => void {
  const check = async (): Promise<void> => {
    const now = Date.now();
    const expired = new Set<string>();
    const active = new Set<string>();
    const idle = new Set<string>();
    for (const socket of io.of("/").sockets.values()) {
      const { sessionId, sessionCreatedAt, activeAt } = socket.data;
      if (!sessionId) continue;
      if (now - sessionCreatedAt > config.sessionAbsoluteSeconds * 1000) expired.add(sessionId);
      else if (now - activeAt < config.sessionIdleSeconds * 1000) active.add(sessionId);
      else idle.add(sessionId);
    }
    for (const id of expired) {
      await keeper.destroy(id);
      endLocalSession(io, id);
    }
    for (const id of active) idle.delete(id);
    const [live, remaining] = await Promise.all([keeper.keepAlive([...active]), keeper.existing([...idle])]);
    for (const id of active) if (!live.has(id)) endLocalSession(io, id);
    for (const id of idle) if (!remaining.has(id)) endLocalSession(io, id);
  };
  const timer = setInterval(() => {
    check().catch((err: Error) => log.warn({ err: err.message }, "session check failed"));
  }, config.sessionCheckIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
