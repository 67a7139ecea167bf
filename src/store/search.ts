import { applyState, type CurrentState } from "../domain/edits.js";
import type { Message } from "../domain/messages.js";
import { type Conversation, streamOf } from "../domain/names.js";
import { matchesTerms, type SearchCursor } from "../domain/search.js";
import { compareIds } from "../domain/stream-ids.js";
import { isUpdate, readStates, toMessage } from "./edits.js";
import type { Keys } from "./keys.js";
import type { Redis } from "./redis.js";

export interface SearchRequest {
  /** The conversations to look in, named as the viewer names them. */
  conversations: readonly Conversation[];
  viewer: string;
  /** Lower-case words; a message matches when each one starts one of its words. */
  terms: readonly string[];
  /** Resume strictly after this position of the newest-first order. */
  before?: SearchCursor;
  /** Most matches to return. */
  limit: number;
  /** Most stream entries read from Redis in this request (beyond one per conversation). */
  scanMax: number;
}

export interface SearchPage {
  /** Matches, newest first. */
  messages: Message[];
  /** Where the next page starts; absent once every conversation was read to its oldest entry. */
  next?: SearchCursor;
}

export interface SearchStore {
  search(request: SearchRequest): Promise<SearchPage>;
}

/** Entries read per XREVRANGE: large enough to be few round trips, small enough to waste little. */
const CHUNK_MAX = 200;

type Entry = { id: string; message: Record<string, string> };

/** One conversation's stream, read newest first in chunks as the merge asks for more. */
interface Reader {
  conversation: Conversation;
  log: string;
  /** The conversation's overlay (store/edits.ts), read only when it has entries. */
  overlay: string;
  hasEdits: boolean;
  /** What became of the edited and deleted messages of the buffer. */
  states: Map<string, CurrentState>;
  /** Read but not yet examined, newest first. */
  buffer: Entry[];
  /** The XREVRANGE end of the next chunk ("+", an id, or "(" and an id). */
  end: string;
  done: boolean;
}

/** Newest first; entries with one id in several streams go in conversation-name order. */
function comesFirst(a: Reader, b: Reader): boolean {
  const byId = compareIds((a.buffer[0] as Entry).id, (b.buffer[0] as Entry).id);
  return byId > 0 || (byId === 0 && a.conversation < b.conversation);
}

/**
 * Searches conversation streams newest first without an index: a k-way merge of XREVRANGE chunks,
 * one reader per conversation, that stops after `limit` matches or `scanMax` entries read. The
 * cursor is the last entry examined, so the next request reads on from exactly there.
 */
export function createSearchStore(redis: Redis, keys: Keys): SearchStore {
  const readChunk = async (reader: Reader, count: number): Promise<number> => {
    const entries = (await redis.xRevRange(reader.log, reader.end, "-", { COUNT: count })) ?? [];
    // Edits and deletions are not results themselves: their messages are, as they read now.
    reader.buffer = entries.filter((entry) => !isUpdate(entry));
    if (reader.hasEdits) {
      reader.states = await readStates(
        redis,
        reader.overlay,
        reader.buffer.map((entry) => entry.id),
      );
    }
    const oldest = entries.at(-1);
    if (entries.length < count || oldest === undefined) reader.done = true;
    else reader.end = `(${oldest.id}`;
    return entries.length;
  };

  return {
    async search({ conversations, viewer, terms, before, limit, scanMax }) {
      const readers: Reader[] = conversations.map((conversation) => {
        let end = "+";
        if (before) {
          // Entries with the cursor's own id come after it only in conversations named later.
          end = conversation > before.conversation ? before.id : `(${before.id}`;
        }
        const stream = streamOf(conversation, viewer);
        const log = keys.logOf(stream);
        return { conversation, log, overlay: keys.edits(stream), hasEdits: false, states: new Map(), buffer: [], end, done: false };
      });
      // Most conversations have no edit: their overlay is never read after this one EXISTS each.
      const overlays = await Promise.all(readers.map((reader) => redis.exists(reader.overlay)));
      overlays.forEach((count, i) => {
        (readers[i] as Reader).hasEdits = count > 0;
      });
      // The first chunk of every conversation shares the budget, but each reads at least one entry,
      // so every request moves the cursor on however many conversations the user has.
      const first = Math.max(1, Math.min(CHUNK_MAX, Math.floor(scanMax / Math.max(1, readers.length))));
      let scanned = (await Promise.all(readers.map((reader) => readChunk(reader, first)))).reduce((a, b) => a + b, 0);

      const messages: Message[] = [];
      let last: SearchCursor | undefined;
      for (;;) {
        const empty = readers.find((reader) => reader.buffer.length === 0 && !reader.done);
        if (empty) {
          const budget = Math.min(CHUNK_MAX, scanMax - scanned);
          if (budget <= 0) break;
          scanned += await readChunk(empty, budget);
          continue;
        }
        let next: Reader | undefined;
        for (const reader of readers) {
          if (reader.buffer.length > 0 && (next === undefined || comesFirst(reader, next))) next = reader;
        }
        if (next === undefined) return { messages };
        const entry = next.buffer.shift() as Entry;
        last = { id: entry.id, conversation: next.conversation };
        const message = applyState(toMessage(entry, next.conversation), next.states.get(entry.id));
        if (!message.deleted && matchesTerms(message.text, terms)) {
          messages.push(message);
          if (messages.length >= limit) break;
        }
      }
      const unread = readers.some((reader) => reader.buffer.length > 0 || !reader.done);
      return unread && last ? { messages, next: last } : { messages };
    },
  };
}
