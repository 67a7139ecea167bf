/**
 * What a benchmark message carries so the receiver can score it without a lookup: the time bucket
 * it belongs to and its scheduled send time (monotonic µs, see lib/time.ts). Both travel in the
 * text, which every server relays verbatim, and are read straight from the frame bytes: the
 * receiving side of a fan-out handles >100k frames/s and must stay cheap.
 */

const TEXT_FIELD = Buffer.from('"text":"b');
const ID_FIELD = Buffer.from('"id":"');
const QUOTE = 0x22;

/** `b<bucket>t<schedUs>x` padded with `x` to `bytes`; the padding stands in for chat text. */
export function encodeText(bucket: number, schedUs: number, bytes: number): string {
  const head = `b${bucket}t${Math.round(schedUs)}x`;
  return head.length >= bytes ? head : head + "x".repeat(bytes - head.length);
}

export interface Stamp {
  bucket: number;
  schedUs: number;
}

/** Reads the stamp from a raw `42["message:new",{...}]` frame, or undefined when absent. */
export function readStamp(frame: Buffer, into: Stamp): boolean {
  const at = frame.indexOf(TEXT_FIELD);
  if (at < 0) return false;
  let i = at + TEXT_FIELD.length;
  let bucket = 0;
  for (let c = frame[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = frame[++i]) bucket = bucket * 10 + (c - 0x30);
  if (frame[i] !== 0x74 /* t */) return false;
  i++;
  let sched = 0;
  for (let c = frame[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = frame[++i]) sched = sched * 10 + (c - 0x30);
  into.bucket = bucket;
  into.schedUs = sched;
  return true;
}

/** The message id of a `message:new` frame (only read when a scenario checks for losses). */
export function readId(frame: Buffer): string | undefined {
  const at = frame.indexOf(ID_FIELD);
  if (at < 0) return undefined;
  const start = at + ID_FIELD.length;
  const end = frame.indexOf(QUOTE, start);
  return end < 0 ? undefined : frame.toString("latin1", start, end);
}

/** The conversation of a `message:new` frame. */
export function readConversation(frame: Buffer): string | undefined {
  const at = frame.indexOf('"conversation":"');
  if (at < 0) return undefined;
  const start = at + 16;
  const end = frame.indexOf(QUOTE, start);
  return end < 0 ? undefined : frame.toString("utf8", start, end);
}
