import { type Conversation, parseConversation } from "../domain/names.js";
import { isStreamId, newestId, timestampOf } from "../domain/stream-ids.js";
import type { MessageStore } from "../store/messages.js";
import type { ChatSocket } from "./context.js";
import { type Sent, sentKey } from "./delivery.js";
import { emitEvent } from "./edits.js";

const MAX_LAST_IDS = 1000;

/**
 * Reads `auth.lastIds` of a handshake. Bad entries are dropped rather than refusing the connection:
 * a client with a corrupted cache still gets online (it just replays less).
 */
export function parseLastIds(auth: unknown): Map<string, string> {
  const lastIds = new Map<string, string>();
  const raw = (auth as { lastIds?: unknown } | undefined)?.lastIds;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return lastIds;
  for (const [conversation, id] of Object.entries(raw).slice(0, MAX_LAST_IDS)) {
    try {
      if (isStreamId(id)) lastIds.set(sentKey(parseConversation(conversation)), id);
    } catch {
      // an unknown conversation name: ignored
    }
  }
  return lastIds;
}

/**
 * How far before the newest id a client holds an unlisted conversation is replayed from. Stream ids
 * are Redis timestamps, but two streams can mint the same millisecond; the client holds nothing of
 * an unlisted conversation, so starting earlier costs nothing and cannot skip a message.
 */
const UNLISTED_MARGIN_MS = 60_000;

/**
 * Replays, per conversation and in order, what the client missed. A conversation the client does
 * not list (a DM that started while it was away) is replayed from just before the newest id it
 * holds anywhere. A client that lists nothing is new and loads history itself.
 */
export async function catchUp(
  socket: ChatSocket,
  conversations: readonly Conversation[],
  lastIds: Map<string, string>,
  messages: MessageStore,
  max: number,
  sent: Sent,
): Promise<void> {
  const newest = newestId(lastIds.values());
  if (newest === undefined) return;
  const fallback = `${Math.max(0, timestampOf(newest) - UNLISTED_MARGIN_MS)}-0`;
  const user = socket.data.user;
  const pages = await Promise.all(
    conversations.map((conversation) => messages.missedSince(conversation, user, lastIds.get(sentKey(conversation)) ?? fallback, max)),
  );
  pages.forEach((page, i) => {
    const conversation = conversations[i] as Conversation;
    let newest: string | undefined;
    if (page.truncated) {
      socket.emit("history:truncated", { conversation, messages: page.messages });
      newest = page.messages.at(-1)?.id;
    } else {
      for (const event of page.events) emitEvent(socket, event);
      newest = page.lastId ?? lastIds.get(sentKey(conversation));
    }
    // What the client holds counts as sent: a live message it already has must not come again.
    if (newest !== undefined) sent.set(sentKey(conversation), newest);
  });
}
