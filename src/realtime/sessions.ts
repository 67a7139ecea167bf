import type { Config } from "../config.js";
import type { Logger } from "../lib/logger.js";
import type { SessionKeeper } from "../store/sessions.js";
import { type ChatServer, sessionChannel } from "./context.js";

/** Tells every socket of a session, on every worker, that it ended, then disconnects them. */
export function endSessionSockets(io: ChatServer, sessionId: string): void {
  const channel = sessionChannel(sessionId);
  io.in(channel).emit("session:ended");
  io.in(channel).disconnectSockets(true);
}

const CHECK_INTERVAL_MS = 30_000;

/**
 * An open socket makes no HTTP requests, so this keeps its session from idling out, and ends the
 * sockets of sessions that expired, were destroyed elsewhere, or passed the absolute timeout.
 */
export function startSessionWatch(io: ChatServer, keeper: SessionKeeper, config: Config, log: Logger): () => void {
  const check = async (): Promise<void> => {
    const sockets = [...io.of("/").sockets.values()];
    const now = Date.now();
    const expired = new Set<string>();
    const open = new Set<string>();
    for (const socket of sockets) {
      const { sessionId, sessionCreatedAt } = socket.data;
      if (!sessionId) continue;
      if (now - sessionCreatedAt > config.sessionAbsoluteSeconds * 1000) expired.add(sessionId);
      else open.add(sessionId);
    }
    for (const id of expired) {
      await keeper.destroy(id);
      endSessionSockets(io, id);
    }
    const live = await keeper.keepAlive([...open]);
    for (const id of open) if (!live.has(id)) endSessionSockets(io, id);
  };
  const timer = setInterval(() => {
    check().catch((err: Error) => log.warn({ err: err.message }, "session check failed"));
  }, CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
