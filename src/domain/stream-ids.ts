/**
 * Redis stream ids ("<ms>-<seq>") order every message of a conversation. They are compared as
 * pairs of integers, never as strings ("9-0" < "10-0") and never as floats.
 */
const STREAM_ID = /^(\d{1,15})-(\d{1,15})$/;

export function isStreamId(value: unknown): value is string {
  return typeof value === "string" && STREAM_ID.test(value);
}

function parts(id: string): [number, number] {
  const match = STREAM_ID.exec(id);
  if (!match) throw new TypeError(`not a stream id: ${id}`);
  return [Number(match[1]), Number(match[2])];
}

/** Negative when a is older than b, 0 when equal, positive when newer. */
export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = parts(a);
  const [bMs, bSeq] = parts(b);
  return aMs - bMs || aSeq - bSeq;
}

/** The newer of two ids, undefined standing for "nothing yet". */
export function newer(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareIds(a, b) >= 0 ? a : b;
}

export function newestId(ids: Iterable<string>): string | undefined {
  let newest: string | undefined;
  for (const id of ids) newest = newer(newest, id);
  return newest;
}

/** The wall-clock time Redis stamped on the message, in ms since the epoch. */
export function timestampOf(id: string): number {
  return parts(id)[0];
}
