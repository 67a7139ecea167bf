import { AppError, invalid } from "../lib/errors.js";

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;
const ROOM = /^#[A-Za-z0-9_-]{1,32}$/;

/** The room every user belongs to and cannot leave. */
export const GENERAL_ROOM = "#general";

/** A conversation as clients name it: `#room`, or `@user` for direct messages. */
export type Conversation = RoomName | DirectName;
export type RoomName = `#${string}`;
export type DirectName = `@${string}`;

/** Usernames are unique case-insensitively; this is the form used in keys and comparisons. */
export function usernameKey(name: string): string {
  return name.toLowerCase();
}

export function isUsername(value: unknown): value is string {
  return typeof value === "string" && USERNAME.test(value);
}

/** @throws AppError E_INVALID unless 3–32 letters, digits, `_`, `.` or `-`. */
export function parseUsername(value: unknown): string {
  if (!isUsername(value)) {
    throw invalid("username must be 3-32 letters, digits, '_', '.' or '-'");
  }
  return value;
}

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;

/**
 * A password for a new account: 12–128 characters, not one of the passwords attackers try first
 * (`isCommon`, whole or followed by digits and symbols), with more than a few distinct characters,
 * and not containing the username. @throws AppError E_INVALID saying which.
 */
export function parseNewPassword(value: unknown, username: string, isCommon: (candidate: string) => boolean): string {
  if (typeof value !== "string" || value.length < PASSWORD_MIN || value.length > PASSWORD_MAX) {
    throw invalid(`password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`);
  }
  const lower = value.normalize("NFKC").toLowerCase();
  const stem = lower.replace(/[\d\W_]+$/u, "");
  if (isCommon(lower) || (stem.length > 0 && isCommon(stem)) || new Set(lower).size < 5) {
    throw invalid("that password is too common or too simple: choose another");
  }
  if (lower.includes(usernameKey(username))) throw invalid("the password must not contain the username");
  return value;
}

export function isRoomName(value: unknown): value is RoomName {
  return typeof value === "string" && ROOM.test(value);
}

/** Room names are case-insensitive: `#Lobby` and `#lobby` are one room, named in lower case. */
export function parseRoomName(value: unknown): RoomName {
  if (!isRoomName(value)) throw invalid("room must be '#' and 1-32 letters, digits, '_' or '-'");
  return value.toLowerCase() as RoomName;
}

export function parseConversation(value: unknown): Conversation {
  if (typeof value === "string" && value.startsWith("@")) {
    return `@${usernameKey(parseUsername(value.slice(1)))}`;
  }
  if (typeof value === "string" && value.startsWith("#")) return parseRoomName(value);
  throw invalid("conversation must be '#room' or '@user'");
}

export function isDirect(conversation: Conversation): conversation is DirectName {
  return conversation.startsWith("@");
}

/** The peer's name of a direct conversation. */
export function peerOf(conversation: DirectName): string {
  return conversation.slice(1);
}

/**
 * The stream a conversation is stored in: the room itself, or `@a:@b` for a DM pair (lower-case
 * names, sorted), which both sides share. It names the conversation's keys and live channel.
 */
export type StreamName = RoomName | `@${string}:@${string}`;

export function streamOf(conversation: Conversation, viewer: string): StreamName {
  if (!isDirect(conversation)) return conversation;
  const [a, b] = [usernameKey(viewer), usernameKey(peerOf(conversation))].sort();
  return `@${a}:@${b}`;
}

/** The two users (lower-case) of a DM pair's stream, or none for a room. */
export function pairOf(stream: StreamName): [string, string] | undefined {
  if (!stream.startsWith("@")) return undefined;
  const [a = "", b = ""] = stream.split(":");
  return [a.slice(1), b.slice(1)];
}

/** The socket.io room holding every socket of one user, on every worker. */
export function userChannel(user: string): DirectName {
  return `@${usernameKey(user)}`;
}

export function assertNotGeneral(room: RoomName): void {
  if (room === GENERAL_ROOM) throw new AppError("E_FORBIDDEN", "everyone stays in #general");
}
