import type { Message } from "./messages.js";
import type { Conversation } from "./names.js";

/**
 * Edits and deletions are entries of the conversation's stream, like messages: each has its own
 * stream id (so catch-up and live delivery order them with the messages) and names the message it
 * changes by `messageId`. Only that message's author may write them.
 */

export type UpdateKind = "edit" | "delete";

/** `message:edited`: the message `messageId` now reads `text`. */
export interface MessageEdit {
  /** This edit's own stream id: clients advance their `lastIds` with it. */
  id: string;
  conversation: Conversation;
  /** The id of the message edited. */
  messageId: string;
  from: string;
  text: string;
  ts: number;
  clientId: string;
}

/** `message:deleted`: the message `messageId` is gone; clients show a tombstone. */
export interface MessageDeletion {
  id: string;
  conversation: Conversation;
  messageId: string;
  from: string;
  ts: number;
  clientId: string;
}

/** One stream entry as a socket receives it: each kind has its own event, so old clients ignore the new ones. */
export type ConversationEvent =
  | { event: "message:new"; payload: Message }
  | { event: "message:edited"; payload: MessageEdit }
  | { event: "message:deleted"; payload: MessageDeletion };

/** What became of a message since it was sent, as the conversation's overlay records it. */
export type CurrentState = { kind: "edited"; text: string } | { kind: "deleted" };

/** A message shown as it is now: edited text, or a tombstone without its text. */
export function applyState(message: Message, state: CurrentState | undefined): Message {
  if (state === undefined) return message;
  if (state.kind === "deleted") return { ...message, text: "", deleted: true };
  return { ...message, text: state.text, edited: true };
}
