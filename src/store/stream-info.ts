import { compareIds } from "../domain/stream-ids.js";
import type { Redis } from "./redis.js";

/** XINFO STREAM's fields as [name, value, ...] ([] if no stream). */
async function streamFields(redis: Redis, key: string): Promise<unknown[]> {
  let info: unknown;
  try {
    info = await redis.xInfoStream(key);
  } catch (err) {
    if (err instanceof Error && /no such key/i.test(err.message)) return [];
    throw err;
  }
  // RESP2 answers a flat [field, value, ...] array, RESP3 a map (an object, or a Map if typeMapping asks).
  if (Array.isArray(info)) return info;
  return info instanceof Map ? [...info.entries()].flat() : Object.entries(info as Record<string, unknown>).flat();
}

function field(fields: unknown[], name: string): string {
  const at = fields.indexOf(name);
  return at >= 0 ? String(fields[at + 1]) : "0-0";
}

/**
 * The newest id ever deleted from a stream by XDEL ("0-0" if none, or no stream). Redis 7 tracks
 * it exactly for XDEL, so "did a reader miss entries after id X?" is `maxDeletedId > X`.
 */
export async function maxDeletedId(redis: Redis, key: string): Promise<string> {
  return field(await streamFields(redis, key), "max-deleted-entry-id");
}

/**
 * Whether entries newer than `id` may be gone: deleted (XDEL), or trimmed (MAXLEN), which Redis
 * does not count as deleted; trimming past `id` removed `id` itself first, so the stream's oldest
 * entry is then newer than it. "0-0" stands for "from the start": nothing before it can be missed.
 */
export async function goneAfter(redis: Redis, key: string, id: string): Promise<boolean> {
  const fields = await streamFields(redis, key);
  if (fields.length === 0 || id === "0-0") return false;
  return compareIds(field(fields, "max-deleted-entry-id"), id) > 0 || compareIds(field(fields, "recorded-first-entry-id"), id) > 0;
}
