import { parseClientId, parseLimit, parseText } from "../domain/messages.js";
import { type Conversation, type DirectName, isDirect, parseConversation, peerOf } from "../domain/names.js";
import { isStreamId } from "../domain/stream-ids.js";
import { AppError, invalid } from "../lib/errors.js";
import type { Counters } from "../lib/metrics.js";
import type { ChatSocket, RealtimeDeps } from "./context.js";
import type { StoredMessage } from "./read-state.js";
import { acked, type Listeners, objectPayload } from "./with-ack.js";

/**
 * Resolves a conversation as the client named it to the canonical form: lower-case rooms the socket
 * belongs to, or `@Name` (as registered) of an existing user.
 */
export async function resolve(socket: ChatSocket, deps: RealtimeDeps, value: unknown): Promise<Conversation> {
  const conversation = parseConversation(value);
  if (!isDirect(conversation)) {
    if (!socket.rooms.has(conversation)) throw new AppError("E_FORBIDDEN", `join ${conversation} first`);
    return conversation;
  }
  const name = await deps.users.displayName(peerOf(conversation));
  if (name === undefined) throw new AppError("E_NOT_FOUND", `no user ${conversation}`);
  return `@${name}` as DirectName;
}

/**
 * Runs a send unless this worker already has `max` waiting on Redis: under overload, sends are
 * refused at once (counted, E_RATE_LIMITED) instead of queueing in memory without bound.
 */
export async function shedWhenSaturated<T>(counters: Counters, max: number, send: () => Promise<T>): Promise<T> {
  if (counters.sendsInFlight >= max) {
    counters.sendsShed++;
    throw new AppError("E_RATE_LIMITED", "server busy, retry shortly", 1);
  }
  counters.sendsInFlight++;
  try {
    return await send();
  } finally {
    counters.sendsInFlight--;
  }
}

/**
 * @param afterStored runs once per new message, once it is stored; it must not delay the sender's
 * ack (read-state.ts counts mentions there).
 */
export function messageListeners(deps: RealtimeDeps, afterStored: (message: StoredMessage) => void = () => {}): Listeners {
  const { log, messages, config } = deps;
  const { limits } = config;
  const sendRate = { rate: limits.sendRate, burst: limits.sendBurst };

  return {
    "message:send": acked(log, "message:send", async (socket, raw) => {
      const payload = objectPayload(raw);
      const text = parseText(payload.text, limits);
      const clientId = parseClientId(payload.clientId);
      const stored = await shedWhenSaturated(deps.counters, limits.sendMaxInFlight, async () => {
        const to = await resolve(socket, deps, payload.to);
        return { to, ...(await messages.append({ to, from: socket.data.user, text, clientId }, sendRate)) };
      });
      if (stored.created) {
        deps.counters.messagesStored++;
        afterStored({ id: stored.id, from: socket.data.user, to: stored.to, text });
      }
      return { id: stored.id, ts: stored.ts };
    }),

    "history:fetch": acked(log, "history:fetch", async (socket, raw) => {
      const user = socket.data.user;
      const payload = objectPayload(raw);
      const conversation = await resolve(socket, deps, payload.conversation);
      const limit = parseLimit(payload.limit, limits.historyPage, limits.historyPageMax);
      const { before, after } = payload;
      if (before !== undefined && after !== undefined) throw invalid("give before or after, not both");
      if (before !== undefined) {
        if (!isStreamId(before)) throw invalid("before must be a message id");
        return { messages: await messages.before(conversation, user, before, limit) };
      }
      if (after !== undefined) {
        if (!isStreamId(after)) throw invalid("after must be a message id");
        return { messages: await messages.after(conversation, user, after, limit) };
      }
      return { messages: await messages.latest(conversation, user, limit) };
    }),
  };
}
