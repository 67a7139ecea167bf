import { parseLimit } from "../domain/messages.js";
import type { Conversation } from "../domain/names.js";
import {
  formatSearchCursor,
  parseSearchCursor,
  SEARCH_QUERY_MAX_CHARS,
  SEARCH_TERMS_MAX,
  type SearchCursor,
  wordsOf,
} from "../domain/search.js";
import { AppError, invalid } from "../lib/errors.js";
import type { RealtimeDeps } from "./context.js";
import { acked, type Listeners, objectPayload } from "./with-ack.js";

/** The distinct words of a query. @throws AppError E_INVALID, E_TOO_LONG. */
function parseTerms(value: unknown): string[] {
  if (typeof value !== "string") throw invalid("query must be a string");
  if ([...value].length > SEARCH_QUERY_MAX_CHARS) {
    throw new AppError("E_TOO_LONG", `query must be at most ${SEARCH_QUERY_MAX_CHARS} characters`);
  }
  const terms = [...new Set(wordsOf(value))];
  if (terms.length === 0) throw invalid("query must have at least one word");
  if (terms.length > SEARCH_TERMS_MAX) throw invalid(`query must have at most ${SEARCH_TERMS_MAX} words`);
  return terms;
}

function parseBefore(value: unknown): SearchCursor | undefined {
  if (value === undefined) return undefined;
  const cursor = typeof value === "string" ? parseSearchCursor(value) : undefined;
  if (cursor === undefined) throw invalid("before must be the next cursor of a previous search");
  return cursor;
}

/** `search`: the user's rooms and direct conversations, newest first, at a bounded cost per request. */
export function searchListeners(deps: RealtimeDeps): Listeners {
  const { log, rooms, search, config } = deps;
  const { searchPage, searchPageMax, searchScanMax } = config.limits;

  return {
    search: acked(log, "search", async (socket, raw) => {
      const payload = objectPayload(raw);
      const terms = parseTerms(payload.query);
      const before = parseBefore(payload.before);
      const limit = parseLimit(payload.limit, searchPage, searchPageMax);
      const user = socket.data.user;
      // Membership as stored, not this socket's rooms: another tab may have joined or left a room.
      const [joined, directs] = await Promise.all([rooms.roomsOf(user), rooms.directsOf(user)]);
      const conversations: Conversation[] = [...joined, ...directs];
      const page = await search.search({ conversations, viewer: user, terms, before, limit, scanMax: searchScanMax });
      return page.next ? { messages: page.messages, next: formatSearchCursor(page.next) } : { messages: page.messages };
    }),
  };
}
