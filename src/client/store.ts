/**
 * What this tab knows about each conversation: its messages (sorted, de-duplicated by id), how far
 * back history was loaded, and the per-user cursors kept in localStorage across reloads:
 * - lastIds: the newest message held per conversation. It is sent as `auth.lastIds` on every
 *   (re)connect so the server replays exactly what is newer: no gap, no duplicate.
 * - readIds: the newest message the user has seen, for unread counts that survive a reload.
 */
import type { Message } from "../domain/messages.js";
import type { Conversation } from "../domain/names.js";
import { compareIds, isStreamId, newer } from "../domain/stream-ids.js";
import { applyChange, type Change, changeIds } from "./changes.js";
import { readJson, writeJson } from "./storage.js";

export interface ConversationState {
  readonly name: Conversation;
  /** Ascending by id. */
  messages: Message[];
  ids: Set<string>;
  /** False once a history page came back empty: there is nothing older on the server. */
  hasOlder: boolean;
  /** The latest page was fetched at least once (after a reload the store starts empty). */
  historyLoaded: boolean;
}

interface Persisted {
  lastIds: Record<string, string>;
  readIds: Record<string, string>;
}

export class Store {
  readonly conversations = new Map<Conversation, ConversationState>();
  private readonly lastIds = new Map<string, string>();
  private readonly readIds = new Map<string, string>();
  /** Lower-case name → the spelling last seen in a message or the presence list. */
  private readonly displayNames = new Map<string, string>();
  /** Conversations left in this tab, dropped from the saved cursors at the next write. */
  private readonly forgotten = new Set<string>();
  /** Per conversation without a read cursor: the first message that arrived live (unread). */
  private readonly firstLive = new Map<string, string>();
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  /** Edits and deletions of messages not held yet (older than the pages loaded), per conversation. */
  private readonly laterChanges = new Map<Conversation, Map<string, Change>>();

  constructor(
    readonly user: string,
    private readonly storage: Storage | undefined,
  ) {
    const saved = readJson<Persisted>(storage, this.key);
    for (const [conversation, id] of Object.entries(saved?.lastIds ?? {})) {
      if (isStreamId(id)) this.lastIds.set(conversation, id);
    }
    for (const [conversation, id] of Object.entries(saved?.readIds ?? {})) {
      if (isStreamId(id)) this.readIds.set(conversation, id);
    }
    this.rememberName(user);
  }

  /** One entry per user (case-insensitive, like usernames), so two accounts in one browser never mix. */
  private get key(): string {
    return `chat:v1:cursors:${this.user.toLowerCase()}`;
  }

  get(name: Conversation): ConversationState | undefined {
    return this.conversations.get(name);
  }

  ensure(name: Conversation): ConversationState {
    this.forgotten.delete(name);
    let state = this.conversations.get(name);
    if (!state) {
      state = { name, messages: [], ids: new Set(), hasOlder: true, historyLoaded: false };
      this.conversations.set(name, state);
    }
    return state;
  }

  remove(name: Conversation): void {
    this.conversations.delete(name);
    this.laterChanges.delete(name);
    this.forgotten.add(name);
    this.lastIds.delete(name);
    this.readIds.delete(name);
    this.scheduleSave();
  }

  /**
   * The latest page came back empty: we hold everything there is. "0-0" (older than any id) says
   * so in the handshake, so the server replays whatever is written while we are disconnected; a
   * conversation without a cursor would get no replay at all.
   */
  markEmpty(name: Conversation): void {
    if (!this.lastIds.has(name)) this.advance(this.lastIds, name, "0-0");
  }

  hasCursor(name: Conversation): boolean {
    return this.lastIds.has(name);
  }

  /** For `auth.lastIds`: what this tab holds, or what an earlier page load held. */
  lastIdsForHandshake(): Record<string, string> {
    return Object.fromEntries(this.lastIds);
  }

  /**
   * Adds the messages not already held and returns them, ascending. The source matters:
   * - "live" (message:new, including a catch-up replay) and "page" (the latest page) end at the
   *   newest message the server has, so they advance lastIds;
   * - "older" pages say nothing about what came after them, and neither does a send's "ack": a
   *   message from another worker stored just before ours may still be on its way to us.
   */
  add(name: Conversation, incoming: readonly Message[], source: "live" | "page" | "older" | "ack"): Message[] {
    const state = this.ensure(name);
    const added: Message[] = [];
    const changes = this.laterChanges.get(name);
    for (const received of incoming) {
      if (!isStreamId(received.id) || state.ids.has(received.id)) continue;
      const change = changes?.get(received.id);
      changes?.delete(received.id);
      const message = change ? applyChange(received, change) : received;
      state.ids.add(message.id);
      insertSorted(state.messages, message);
      added.push(message);
      this.rememberName(message.from);
    }
    added.sort((a, b) => compareIds(a.id, b.id));
    if (source === "live" || source === "page") {
      // Advanced by the batch itself, duplicates included: our own message comes back as
      // message:new after its ack already put it in the list, and the cursor must move past it.
      const newestIncoming = incoming.reduce<string | undefined>((max, m) => (isStreamId(m.id) ? newer(max, m.id) : max), undefined);
      if (newestIncoming) this.advance(this.lastIds, name, newestIncoming);
    }
    const firstAdded = added[0];
    if (source === "live" && firstAdded && !this.readIds.has(name) && !this.firstLive.has(name)) {
      this.firstLive.set(name, firstAdded.id);
    }
    return added;
  }

  /**
   * After the first latest page of a conversation this browser has no read cursor for (a new
   * browser, a new DM): what the page brought counts as read, what arrived live does not.
   */
  initRead(name: Conversation): void {
    if (this.readIds.has(name)) return;
    const messages = this.get(name)?.messages ?? [];
    const firstLive = this.firstLive.get(name);
    let read: string | undefined;
    for (const message of messages) {
      if (firstLive !== undefined && compareIds(message.id, firstLive) >= 0) break;
      read = message.id;
    }
    // Nothing older than the first live message: the conversation began with it, all unread.
    this.advance(this.readIds, name, read ?? "0-0");
    this.firstLive.delete(name);
  }

  /**
   * An edit or a deletion arrived (live or replayed): returns the message as it now reads when this
   * tab holds it, else keeps the change for when an older page brings the message.
   */
  change(name: Conversation, change: Change, source: "live" | "ack"): Message | undefined {
    const state = this.ensure(name);
    const { messageId, id } = changeIds(change);
    // As for messages (see add): an ack says nothing of what came before it.
    if (source === "live" && isStreamId(id)) this.advance(this.lastIds, name, id);
    let index = state.ids.has(messageId) ? state.messages.length - 1 : -1;
    while (index >= 0 && state.messages[index]?.id !== messageId) index--;
    const held = state.messages[index];
    if (held === undefined) {
      const changes = this.laterChanges.get(name) ?? new Map<string, Change>();
      this.laterChanges.set(name, changes);
      const earlier = changes.get(messageId);
      if (earlier?.kind !== "delete") changes.set(messageId, change);
      return undefined;
    }
    const changed = applyChange(held, change);
    state.messages[index] = changed;
    return changed;
  }

  /** history:truncated: the server could not replay the gap, so the held messages are replaced. */
  replace(name: Conversation, page: readonly Message[]): void {
    const state = this.ensure(name);
    state.messages = [];
    state.ids = new Set();
    state.hasOlder = true;
    state.historyLoaded = true;
    this.add(name, page, "page");
  }

  /** Returns the new read cursor when it moved (to tell the server), else undefined. */
  markRead(name: Conversation): string | undefined {
    const newest = this.get(name)?.messages.at(-1)?.id;
    if (!newest || !this.advance(this.readIds, name, newest)) return undefined;
    return newest;
  }

  /** Another tab or device read up to `id` (the server's marker): moves the cursor if newer. */
  readElsewhere(name: Conversation, id: string): void {
    if (isStreamId(id)) this.advance(this.readIds, name, id);
  }

  /** Messages from others newer than what the user has seen (all of them without a cursor yet). */
  unread(name: Conversation): number {
    const state = this.get(name);
    if (!state) return 0;
    const read = this.readIds.get(name);
    let count = 0;
    for (let i = state.messages.length - 1; i >= 0; i--) {
      const message = state.messages[i];
      if (!message || (read && compareIds(message.id, read) <= 0)) break;
      if (message.from.toLowerCase() !== this.user.toLowerCase()) count++;
    }
    return count;
  }

  rememberName(name: string): void {
    this.displayNames.set(name.toLowerCase(), name);
  }

  knowsName(name: string): boolean {
    return this.displayNames.has(name.toLowerCase());
  }

  displayName(name: string): string {
    return this.displayNames.get(name.toLowerCase()) ?? name;
  }

  /** Writes the cursors now (the page is going away). */
  flush(): void {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    // Merge with what other tabs of the same user saved, so the newest cursor wins everywhere.
    const saved = readJson<Persisted>(this.storage, this.key);
    const lastIds = mergeNewest(saved?.lastIds, this.lastIds, this.forgotten);
    const readIds = mergeNewest(saved?.readIds, this.readIds, this.forgotten);
    writeJson(this.storage, this.key, { lastIds, readIds } satisfies Persisted);
  }

  /** Moves a cursor forward; true when it moved. */
  private advance(map: Map<string, string>, name: string, id: string): boolean {
    const next = newer(map.get(name), id);
    if (next === map.get(name)) return false;
    if (next) map.set(name, next);
    this.scheduleSave();
    return true;
  }

  /** A catch-up replay can add hundreds of messages in a burst: write the cursors once after it. */
  private scheduleSave(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => this.flush(), 250);
  }
}

function insertSorted(messages: Message[], message: Message): void {
  // Nearly always an append: search from the end.
  let index = messages.length;
  while (index > 0) {
    const previous = messages[index - 1];
    if (!previous || compareIds(previous.id, message.id) < 0) break;
    index--;
  }
  messages.splice(index, 0, message);
}

function mergeNewest(
  saved: Record<string, string> | undefined,
  mine: Map<string, string>,
  forgotten: ReadonlySet<string>,
): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const [name, id] of Object.entries(saved ?? {})) if (isStreamId(id)) merged[name] = id;
  for (const [name, id] of mine) merged[name] = newer(merged[name], id) ?? id;
  // A room this tab left must not come back from the saved copy.
  for (const name of forgotten) delete merged[name];
  return merged;
}
