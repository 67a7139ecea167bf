/**
 * The message size limit as the server applies it to the text it stores: characters (code points,
 * so an emoji counts once) after trimming. The server also caps UTF-8 bytes; only a text made
 * mostly of 4-byte characters or padded with whitespace can reach that cap first, and the server's
 * refusal then comes back to the composer like any other.
 */
export function countChars(text: string): number {
  let count = 0;
  for (const _ of text.trim()) count++;
  return count;
}

/** The limit the page was rendered with (`data-max-chars`, from MESSAGE_MAX_CHARS on the server). */
export function readLimit(element: HTMLElement): number {
  const value = Number(element.dataset.maxChars);
  if (!Number.isInteger(value) || value < 1) throw new Error("the composer has no data-max-chars");
  return value;
}

/** Shown from this share of the limit on, so the counter stays out of the way of short messages. */
const COUNTER_FROM = 0.8;

export interface LengthState {
  chars: number;
  max: number;
  /** Whether to show the counter at all. */
  near: boolean;
  over: boolean;
}

export function lengthState(text: string, max: number): LengthState {
  const chars = countChars(text);
  return { chars, max, near: chars >= Math.floor(max * COUNTER_FROM), over: chars > max };
}

/** Worded without the current count, so a screen reader does not repeat it at every keystroke. */
export function tooLongReason(max: number): string {
  return `Too long to send: the limit is ${format(max)} characters. Shorten it or split it into several messages.`;
}

export function format(count: number): string {
  return count.toLocaleString();
}
