import { applyState, type ConversationEvent, type CurrentState } from "../domain/edits.js";
import type { Message } from "../domain/messages.js";
import type { Conversation } from "../domain/names.js";
import { timestampOf } from "../domain/stream-ids.js";
import { updateOf } from "./live-wire.js";
import type { Redis } from "./redis.js";

/**
 * The overlay of a conversation: a hash (keys.edits) from message id to what became of that message,
 * written by the send script in the same step as the edit or deletion entry. History and search
 * read it to show messages as they are now without reading every later entry of the stream.
 * Values: "d" (deleted) or "e" followed by the latest text.
 */

export type StreamEntry = { id: string; message: Record<string, string> };

export function decodeState(value: string | null | undefined): CurrentState | undefined {
  if (value === "d") return { kind: "deleted" };
  if (typeof value === "string" && value.startsWith("e")) return { kind: "edited", text: value.slice(1) };
  return undefined;
}

/** What became of these messages (only those edited or deleted are in the map). */
export async function readStates(redis: Redis, overlay: string, ids: readonly string[]): Promise<Map<string, CurrentState>> {
  const states = new Map<string, CurrentState>();
  if (ids.length === 0) return states;
  const values = await redis.hmGet(overlay, [...ids]);
  values.forEach((value, i) => {
    const state = decodeState(value);
    if (state) states.set(ids[i] as string, state);
  });
  return states;
}

/** Whether a stream entry is an edit or a deletion rather than a message. */
export function isUpdate(entry: StreamEntry): boolean {
  return entry.message.kind !== undefined;
}

/** The message ids whose state matters to these entries: the messages', and those the updates change. */
export function subjectsOf(entries: readonly StreamEntry[]): string[] {
  return entries.map((entry) => (isUpdate(entry) ? (entry.message.of ?? "") : entry.id)).filter((id) => id !== "");
}

export function toMessage(entry: StreamEntry, conversation: Conversation): Message {
  const { from = "", text = "", cid = "" } = entry.message;
  return { id: entry.id, conversation, from, text, ts: timestampOf(entry.id), clientId: cid };
}

/**
 * Stream entries as a socket receives them, in stream order, each message in its current state. An
 * edit carries the latest text; an edit of a message deleted since is dropped, so a replay never
 * sends deleted text.
 */
export function eventsOf(
  entries: readonly StreamEntry[],
  conversation: Conversation,
  states: Map<string, CurrentState>,
): ConversationEvent[] {
  const events: ConversationEvent[] = [];
  for (const entry of entries) {
    const update = updateOf(entry.message.kind, entry.message.of);
    const base = {
      id: entry.id,
      conversation,
      from: entry.message.from ?? "",
      ts: timestampOf(entry.id),
      clientId: entry.message.cid ?? "",
    };
    if (update === undefined) {
      if (!isUpdate(entry))
        events.push({ event: "message:new", payload: applyState(toMessage(entry, conversation), states.get(entry.id)) });
      continue;
    }
    const state = states.get(update.messageId);
    if (update.kind === "delete") events.push({ event: "message:deleted", payload: { ...base, messageId: update.messageId } });
    else if (state?.kind !== "deleted") {
      const text = state?.kind === "edited" ? state.text : (entry.message.text ?? "");
      events.push({ event: "message:edited", payload: { ...base, messageId: update.messageId, text } });
    }
  }
  return events;
}
