import type { UpdateKind } from "../domain/edits.js";
import { type Conversation, isUsername, pairOf, parseConversation, type StreamName } from "../domain/names.js";
import { isStreamId, timestampOf } from "../domain/stream-ids.js";

/**
 * What the live channels carry between workers (never clients). The send script writes a message's
 * payload, so its fields are joined by newlines there: every field but the text is a name or an id
 * without one, and the text comes last.
 */

/** A stored message as workers deliver it: addressed as its sender addressed it. */
export interface StoredMessage {
  stream: StreamName;
  id: string;
  /** `#room`, or `@recipient` as the sender named them. */
  to: Conversation;
  from: string;
  text: string;
  ts: number;
  clientId: string;
  /** Set on an edit or a deletion: which message it changes. */
  update?: EntryUpdate;
}

export interface EntryUpdate {
  kind: UpdateKind;
  messageId: string;
}

/** Reads the `kind` and `of` fields of a stream entry, or of a live payload; undefined for a message. */
export function updateOf(kind: string | undefined, messageId: string | undefined): EntryUpdate | undefined {
  if ((kind === "edit" || kind === "delete") && isStreamId(messageId)) return { kind, messageId };
  return undefined;
}

/** A message from its conversation's live channel, with the id before it in its stream ("0-0": none). */
export interface LiveMessage {
  prev: string;
  message: StoredMessage;
}

/** A DM pair has a message: a worker that does not follow the pair yet fills it from `prev` on. */
export interface Notice {
  stream: StreamName;
  id: string;
  prev: string;
}

/** Splits off the first `count` newline-separated fields; the rest (which may hold newlines) is last. */
function fields(payload: string, count: number): string[] | undefined {
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const end = payload.indexOf("\n", at);
    if (end < 0) return undefined;
    out.push(payload.slice(at, end));
    at = end + 1;
  }
  out.push(payload.slice(at));
  return out;
}

function conversationOr(value: string): Conversation | undefined {
  try {
    return value.startsWith("@") ? (value as Conversation) : parseConversation(value);
  } catch {
    return undefined;
  }
}

/**
 * Reads a live payload (`prev`, `id`, `from`, `to`, `clientId`, `kind`, `of`, `text`; `kind` and
 * `of` are empty for a message); undefined if malformed.
 */
export function parseLive(stream: StreamName, payload: string): LiveMessage | undefined {
  const parts = fields(payload, 7);
  if (parts === undefined) return undefined;
  const [prev = "", id = "", from = "", rawTo = "", clientId = "", kind = "", of = "", text = ""] = parts;
  const to = conversationOr(rawTo);
  if (!isStreamId(prev) || !isStreamId(id) || to === undefined) return undefined;
  const update = updateOf(kind, of);
  if (kind !== "" && update === undefined) return undefined;
  const message: StoredMessage = { stream, id, to, from, text, ts: timestampOf(id), clientId };
  if (update) message.update = update;
  return { prev, message };
}

/** A stream entry as delivered after a gap. DM entries carry their `to`; older ones fall back to the key. */
export function fromEntry(stream: StreamName, entry: { id: string; message: Record<string, string> }): StoredMessage {
  const { from = "", text = "", cid = "", to, kind, of } = entry.message;
  const pair = pairOf(stream);
  let recipient: Conversation;
  if (pair === undefined) recipient = stream as Conversation;
  else if (to?.startsWith("@")) recipient = to as Conversation;
  else recipient = `@${pair[0] === from.toLowerCase() ? pair[1] : pair[0]}`;
  const message: StoredMessage = { stream, id: entry.id, to: recipient, from, text, ts: timestampOf(entry.id), clientId: cid };
  const update = updateOf(kind, of);
  if (update) message.update = update;
  return message;
}

export function encodeNotice(notice: Notice): string {
  return `${notice.stream}\n${notice.id}\n${notice.prev}`;
}

const PAIR = /^@[a-z0-9_.-]{3,32}:@[a-z0-9_.-]{3,32}$/;

export function parseNotice(payload: string): Notice | undefined {
  const [stream = "", id = "", prev = ""] = payload.split("\n");
  if (!PAIR.test(stream) || !isStreamId(id) || !isStreamId(prev)) return undefined;
  return { stream: stream as StreamName, id, prev };
}

/**
 * A typing signal shares the channels of messages (a room's live channel, a user's notice channel),
 * so it reaches exactly the workers that follow the conversation. Its first line is never a stream
 * id nor a DM pair, so workers of an earlier version drop it as malformed.
 */
const TYPING = "typing\n";

export function encodeTyping(user: string): string {
  return `${TYPING}${user}`;
}

/**
 * Users that may have come online or gone offline, on the live channel of a conversation they are
 * in: only the workers with a socket in it hear them. Like typing, its first line is never an id.
 */
const PRESENCE = "presence\n";

/** Usernames hold no newline, so one per line. */
export function encodePresence(users: readonly string[]): string {
  return `${PRESENCE}${users.join("\n")}`;
}

export function parsePresence(payload: string): string[] | undefined {
  if (!payload.startsWith(PRESENCE)) return undefined;
  const users = payload.slice(PRESENCE.length).split("\n");
  return users.every(isUsername) ? users : undefined;
}

/**
 * An event for the sockets of one user (a read marker that moved on another tab) on the user's
 * notice channel, or for those that watch a room's member list on the room's live channel: only
 * the workers with such a socket hear it. The realtime layer names and checks the event; here it
 * is a name, a JSON body and the socket that need not hear it.
 */
export interface LiveEvent {
  event: string;
  data: unknown;
  except?: string;
}

/** Named for its first use, on users' channels; kept so that workers of either version read each other's. */
const EVENT = "user-event\n";

export function encodeLiveEvent(event: LiveEvent): string {
  return `${EVENT}${JSON.stringify(event)}`;
}

/** An event; undefined when the payload is something else or malformed. */
export function parseLiveEvent(payload: string): LiveEvent | undefined {
  if (!payload.startsWith(EVENT)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.slice(EVENT.length));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { event, data, except } = parsed as Record<string, unknown>;
  if (typeof event !== "string" || (except !== undefined && typeof except !== "string")) return undefined;
  return except === undefined ? { event, data } : { event, data, except };
}

/** The typist of a typing signal; undefined when the payload is something else. */
export function parseTyping(payload: string): string | undefined {
  if (!payload.startsWith(TYPING)) return undefined;
  const user = payload.slice(TYPING.length);
  return isUsername(user) ? user : undefined;
}
