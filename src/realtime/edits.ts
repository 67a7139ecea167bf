import type { ConversationEvent, MessageDeletion, MessageEdit, UpdateKind } from "../domain/edits.js";
import { type Message, parseClientId, parseText } from "../domain/messages.js";
import type { Conversation } from "../domain/names.js";
import { isStreamId } from "../domain/stream-ids.js";
import { invalid } from "../lib/errors.js";
import type { StoredMessage } from "../store/live-wire.js";
import type { ChatSocket, RealtimeDeps } from "./context.js";
import { resolve, shedWhenSaturated } from "./messages.js";
import { acked, type Listeners, objectPayload } from "./with-ack.js";

/** Anything that sends to one socket or a room: a socket, or a broadcast. */
export interface EventTarget {
  emit(event: "message:new", payload: Message): unknown;
  emit(event: "message:edited", payload: MessageEdit): unknown;
  emit(event: "message:deleted", payload: MessageDeletion): unknown;
}

export function emitEvent(target: EventTarget, { event, payload }: ConversationEvent): void {
  if (event === "message:new") target.emit(event, payload);
  else if (event === "message:edited") target.emit(event, payload);
  else target.emit(event, payload);
}

/** A stored entry as the sockets that name its conversation `conversation` receive it. */
export function liveEvent(stored: StoredMessage, conversation: Conversation): ConversationEvent {
  const { id, from, ts, clientId, update } = stored;
  if (update === undefined) return { event: "message:new", payload: { id, conversation, from, text: stored.text, ts, clientId } };
  const base = { id, conversation, messageId: update.messageId, from, ts, clientId };
  if (update.kind === "delete") return { event: "message:deleted", payload: base };
  return { event: "message:edited", payload: { ...base, text: stored.text } };
}

function parseMessageId(value: unknown): string {
  if (!isStreamId(value)) throw invalid("id must be a message id");
  return value;
}

/**
 * `message:edit` and `message:delete`: entries of the conversation's stream written by the send
 * path (store/messages.ts), so they share its guarantees (deduplicated by clientId, ordered,
 * delivered once, replayed by catch-up) and its budget. An edit does not count mentions: the
 * mentioned users were counted when the message was sent, and an edit must not notify again.
 */
export function editListeners(deps: RealtimeDeps): Listeners {
  const { log, messages, config } = deps;
  const { limits } = config;
  const sendRate = { rate: limits.sendRate, burst: limits.sendBurst };

  const change = async (socket: ChatSocket, raw: unknown, kind: UpdateKind) => {
    const payload = objectPayload(raw);
    const messageId = parseMessageId(payload.id);
    const text = kind === "edit" ? parseText(payload.text, limits) : "";
    const clientId = parseClientId(payload.clientId);
    const stored = await shedWhenSaturated(deps.counters, limits.sendMaxInFlight, async () => {
      const to = await resolve(socket, deps, payload.conversation);
      return messages.append({ to, from: socket.data.user, text, clientId, update: { kind, messageId } }, sendRate);
    });
    return { id: stored.id, ts: stored.ts };
  };

  return {
    "message:edit": acked(log, "message:edit", (socket, raw) => change(socket, raw, "edit")),
    "message:delete": acked(log, "message:delete", (socket, raw) => change(socket, raw, "delete")),
  };
}
