import { mentionedNames } from "../domain/mentions.js";
import { type Conversation, isDirect, peerOf, usernameKey } from "../domain/names.js";
import { isStreamId } from "../domain/stream-ids.js";
import { invalid } from "../lib/errors.js";
import type { RealtimeDeps } from "./context.js";
import type { Delivery } from "./delivery.js";
import { resolve } from "./messages.js";
import { acked, type Listeners, objectPayload } from "./with-ack.js";

/**
 * Read state is kept per user with conversations in lower case (`#room`, `@peer`), so every device
 * and spelling agrees on one field.
 */
const fieldOf = (conversation: Conversation): string => conversation.toLowerCase();

/** A message just stored, as the mention step needs it. */
export interface StoredMessage {
  id: string;
  from: string;
  /** As the sender addressed it (`#room` or `@Recipient`). */
  to: Conversation;
  text: string;
}

/**
 * The step after a send is stored: every member of the conversation (or the DM peer) that the text
 * mentions gets one more mention in that conversation, and their sockets on every worker are told
 * the new count. It runs after the ack so a send never waits for it; a failure loses a count, not
 * the message, and is logged.
 */
export function mentionStep(deps: RealtimeDeps, delivery: Delivery): (message: StoredMessage) => void {
  const { readState, users, log } = deps;

  const countFor = async (name: string, { id, from, to }: StoredMessage): Promise<void> => {
    if (name === usernameKey(from)) return;
    let conversation: Conversation;
    if (isDirect(to)) {
      if (usernameKey(peerOf(to)) !== name) return;
      conversation = `@${from}`;
    } else {
      const member = await users.displayName(name);
      if (member === undefined || !(await readState.isMember(member, to))) return;
      conversation = to;
    }
    const mentions = await readState.addMention(name, fieldOf(conversation), id);
    if (mentions !== undefined) delivery.signal(name, { event: "read:update", data: { conversation, mentions } });
  };

  return (message) => {
    const names = mentionedNames(message.text);
    if (names.length === 0) return;
    Promise.all(names.map((name) => countFor(name, message))).catch((err: Error) =>
      log.warn({ err: err.message }, "mention count not stored"),
    );
  };
}

export function readStateListeners(deps: RealtimeDeps, delivery: Delivery): Listeners {
  const { log, readState } = deps;

  return {
    "conversation:read": acked(log, "conversation:read", async (socket, raw) => {
      const payload = objectPayload(raw);
      const { lastId } = payload;
      if (!isStreamId(lastId)) throw invalid("lastId must be a message id");
      const conversation = await resolve(socket, deps, payload.conversation);
      const user = socket.data.user;
      const marker = await readState.markRead(user, fieldOf(conversation), lastId);
      const update = { conversation, lastId: marker.lastId, mentions: marker.mentions };
      // The user's other tabs and devices, on every worker, clear what this one has read.
      delivery.signal(user, { event: "read:update", data: update, except: socket.id });
      return update;
    }),

    "read:fetch": acked(log, "read:fetch", async (socket) => readState.get(socket.data.user)),
  };
}
