/**
 * Who is typing where. A `typing` event is a heartbeat: the user counts as typing for a few
 * seconds after the last one, or until their message arrives.
 */
import type { Conversation } from "../domain/names.js";

const SHOW_MS = 4_000;
/** At most one outgoing typing event per conversation in this interval. */
const SEND_EVERY_MS = 2_000;

export class TypingTracker {
  private readonly timers = new Map<Conversation, Map<string, ReturnType<typeof setTimeout>>>();

  constructor(private readonly changed: (conversation: Conversation) => void) {}

  seen(conversation: Conversation, user: string): void {
    let users = this.timers.get(conversation);
    if (!users) {
      users = new Map();
      this.timers.set(conversation, users);
    }
    const existing = users.get(user);
    if (existing !== undefined) clearTimeout(existing);
    users.set(
      user,
      setTimeout(() => this.stopped(conversation, user), SHOW_MS),
    );
    if (existing === undefined) this.changed(conversation);
  }

  stopped(conversation: Conversation, user: string): void {
    const users = this.timers.get(conversation);
    const timer = users?.get(user);
    if (!users || timer === undefined) return;
    clearTimeout(timer);
    users.delete(user);
    this.changed(conversation);
  }

  typists(conversation: Conversation): string[] {
    return [...(this.timers.get(conversation)?.keys() ?? [])];
  }
}

/**
 * Announces our own typing at most once per interval, with a trailing announcement when keys were
 * pressed during the quiet period: a short burst right after a previous announcement is still
 * announced. The interval is above the server's own throttle (TYPING_INTERVAL_MS, 1.5 s by
 * default), which silently drops anything faster.
 */
export class TypingAnnouncer {
  private last = 0;
  private lastConversation: Conversation | undefined;
  private trailing: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly announce: (conversation: Conversation) => void,
    /** The conversation being typed in now, or undefined once the composer is empty. */
    private readonly typingIn: () => Conversation | undefined,
  ) {}

  keystroke(conversation: Conversation, now = Date.now()): void {
    if (conversation !== this.lastConversation || now - this.last >= SEND_EVERY_MS) {
      this.send(conversation, now);
      return;
    }
    if (this.trailing !== undefined) return;
    this.trailing = setTimeout(
      () => {
        this.trailing = undefined;
        const current = this.typingIn();
        if (current !== undefined) this.send(current, Date.now());
      },
      this.last + SEND_EVERY_MS - now,
    );
  }

  private send(conversation: Conversation, now: number): void {
    this.last = now;
    this.lastConversation = conversation;
    this.announce(conversation);
  }
}

export function describeTypists(names: readonly string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "Several people are typing…";
}
