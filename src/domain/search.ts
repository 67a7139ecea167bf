/**
 * Search rules shared by the server and the browser client (the client marks the matched words):
 * no imports, so the browser bundle can take this file as it is.
 */

/** Characters a query may have; longer ones are refused with E_TOO_LONG. */
export const SEARCH_QUERY_MAX_CHARS = 200;
/** Words a query may have; each one must match, so more would only narrow to nothing. */
export const SEARCH_TERMS_MAX = 8;

const WORD = /[\p{L}\p{N}_]+/gu;

/** The lower-case words of a text, in order (punctuation and spaces separate words). */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/**
 * Whether every term starts some word of the text, case-insensitively: "deploy" finds
 * "Deployment", "dep" alone finds it too, "ploy" does not.
 */
export function matchesTerms(text: string, terms: readonly string[]): boolean {
  const words = wordsOf(text);
  return terms.every((term) => words.some((word) => word.startsWith(term)));
}

/** A position in the newest-first order of search results: the message id, then its conversation. */
export interface SearchCursor {
  id: string;
  conversation: string;
}

/** The opaque `next` string a client sends back as `before`: "<id> <conversation>". */
export function formatSearchCursor(cursor: SearchCursor): string {
  return `${cursor.id} ${cursor.conversation}`;
}

const CURSOR = /^(\d{1,15}-\d{1,15}) ([#@][\w.-]{1,32})$/;

/** undefined when the value is not a cursor this server made. */
export function parseSearchCursor(value: string): SearchCursor | undefined {
  const match = CURSOR.exec(value);
  if (!match) return undefined;
  return { id: match[1] as string, conversation: match[2] as string };
}
