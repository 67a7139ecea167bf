/**
 * How an edit or a deletion that arrives changes a message this tab holds. No DOM: unit tests run
 * it in Node.
 */
import type { Message } from "../domain/messages.js";
import type { MessageDeletion, MessageEdit } from "../realtime/events.js";

export type Change = { kind: "edit"; edit: MessageEdit } | { kind: "delete"; deletion: MessageDeletion };

/** The id of the message a change applies to, and the change's own stream id. */
export function changeIds(change: Change): { messageId: string; id: string } {
  const payload = change.kind === "edit" ? change.edit : change.deletion;
  return { messageId: payload.messageId, id: payload.id };
}

/** The message as the change leaves it; a deletion is final, so a late edit never brings text back. */
export function applyChange(message: Message, change: Change): Message {
  if (message.deleted) return message;
  if (change.kind === "delete") {
    const { edited: _edited, ...rest } = message;
    return { ...rest, text: "", deleted: true };
  }
  return { ...message, text: change.edit.text, edited: true };
}
