import { AppError, invalid } from "../lib/errors.js";
import type { Conversation } from "./names.js";

/** A stored chat message as every client sees it. `conversation` is from the receiver's point of view. */
export interface Message {
  /** Redis stream id "<ms>-<seq>": orders the messages of one conversation. */
  id: string;
  /** `#room`, or `@peer` from the receiver's point of view. */
  conversation: Conversation;
  from: string;
  text: string;
  /** ms since the epoch, as stamped by Redis. */
  ts: number;
  clientId: string;
  /** Present in history, search and catch-up when the text was edited since (`text` is the latest). */
  edited?: true;
  /** Present in history and catch-up when the message was deleted (`text` is then empty). */
  deleted?: true;
}

export interface TextLimits {
  messageMaxChars: number;
  messageMaxBytes: number;
}

const CLIENT_ID = /^[\w-]{8,64}$/;

/**
 * Trims and checks a message text.
 * @throws AppError E_INVALID when empty or not a string, E_TOO_LONG over either limit.
 */
export function parseText(value: unknown, limits: TextLimits): string {
  if (typeof value !== "string") throw invalid("text must be a string");
  // Every UTF-16 unit takes at least one UTF-8 byte: an over-long string is refused before counting.
  if (value.length > limits.messageMaxBytes || utf8Length(value) > limits.messageMaxBytes) {
    throw new AppError("E_TOO_LONG", `text must be at most ${limits.messageMaxBytes} bytes`);
  }
  const text = value.trim();
  if (text.length === 0) throw invalid("text must not be empty");
  // Count code points, not UTF-16 units, so an emoji counts once.
  if ([...text].length > limits.messageMaxChars) {
    throw new AppError("E_TOO_LONG", `text must be at most ${limits.messageMaxChars} characters`);
  }
  return text;
}

/** The client's idempotency key: a retry with the same id is stored once. */
export function parseClientId(value: unknown): string {
  if (typeof value !== "string" || !CLIENT_ID.test(value)) {
    throw invalid("clientId must be 8-64 letters, digits, '_' or '-' (a UUID fits)");
  }
  return value;
}

/** A page size asked by a client, capped by the operator's maximum. */
export function parseLimit(value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw invalid("limit must be a positive integer");
  }
  return Math.min(value, max);
}

/**
 * The UTF-8 length of a string, as Buffer.byteLength counts it (a lone surrogate as the 3 bytes of
 * U+FFFD), without Node's Buffer: this module also runs in the browser.
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
