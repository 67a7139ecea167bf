import type { Redis } from "./redis.js";

/**
 * The newest id ever trimmed or deleted from a stream ("0-0" if none, or no stream). Redis 7 tracks
 * it exactly, so "did a reader miss entries after id X?" is `maxDeletedId > X`.
 */
export async function maxDeletedId(redis: Redis, key: string): Promise<string> {
  let info: unknown;
  try {
    info = await redis.xInfoStream(key);
  } catch (err) {
    if (err instanceof Error && /no such key/i.test(err.message)) return "0-0";
    throw err;
  }
  // RESP2 answers a flat [field, value, ...] array, RESP3 a map (an object, or a Map if typeMapping asks).
  const fields: unknown[] = Array.isArray(info)
    ? info
    : info instanceof Map
      ? [...info.entries()].flat()
      : Object.entries(info as Record<string, unknown>).flat();
  const at = fields.indexOf("max-deleted-entry-id");
  return at >= 0 ? String(fields[at + 1]) : "0-0";
}
