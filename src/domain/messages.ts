import { AppError, invalid } from "../lib/errors.js";
import type { Conversation } from "./names.js";

/** A stored chat message as every client sees it. `conversation` is from the receiver's point of view. */
export interface Message {
  id: string;
  conversation: Conversation;
  from: string;
  text: string;
  ts: number;
  clientId: string;
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
  if (Buffer.byteLength(value, "utf8") > limits.messageMaxBytes) {
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
