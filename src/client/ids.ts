/**
 * Redis stream ids ("<ms>-<seq>") order the messages of a conversation. They are compared as two
 * integers: as strings "9-0" would sort after "10-0", and as floats large sequences lose precision.
 */
const STREAM_ID = /^(\d{1,15})-(\d{1,15})$/;

export function isStreamId(value: unknown): value is string {
  return typeof value === "string" && STREAM_ID.test(value);
}

function parts(id: string): [number, number] {
  const match = STREAM_ID.exec(id);
  if (!match) return [0, 0];
  return [Number(match[1]), Number(match[2])];
}

/** Negative when a is older than b, 0 when equal, positive when newer. */
export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = parts(a);
  const [bMs, bSeq] = parts(b);
  return aMs - bMs || aSeq - bSeq;
}

/** The newer of two ids, treating undefined as "nothing yet". */
export function newer(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareIds(a, b) >= 0 ? a : b;
}
