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

/** @throws AppError E_INVALID unless 8–128 characters. */
export function parsePassword(value: unknown): string {
  if (typeof value !== "string" || value.length < 8 || value.length > 128) {
    throw invalid("password must be 8-128 characters");
  }
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

/** The socket.io room holding every socket of one user, on every worker. */
export function userChannel(user: string): DirectName {
  return `@${usernameKey(user)}`;
}

export function assertNotGeneral(room: RoomName): void {
  if (room === GENERAL_ROOM) throw new AppError("E_FORBIDDEN", "everyone stays in #general");
}
