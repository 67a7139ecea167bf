/**
 * Mentions: `@name` in a message text names a user. Shared by the server (which counts them) and the
 * browser client (which highlights them), so both read a text the same way; no imports, so the
 * browser bundle can take this file as it is.
 */

/** Names counted per message: a text listing everyone notifies no one past this. */
export const MENTIONS_MAX = 20;

// `@` at the start or after a character that cannot be part of a name or an address ("a@b.c" is
// not a mention); the name is a username that does not end in `.` or `-`, so "@bob." at the end
// of a sentence names bob.
const MENTION = /(?:^|[^\w@.-])@([A-Za-z0-9_.-]{1,31}[A-Za-z0-9_])(?![\w])/g;

/** The lower-case names mentioned in a text, each once, in order of first mention. */
export function mentionedNames(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(MENTION)) {
    const name = (match[1] as string).toLowerCase();
    if (name.length >= 3) names.add(name);
    if (names.size >= MENTIONS_MAX) break;
  }
  return [...names];
}

/** Whether the text mentions this user (case-insensitively, as usernames compare). */
export function mentions(text: string, user: string): boolean {
  return mentionedNames(text).includes(user.toLowerCase());
}
