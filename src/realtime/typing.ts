import { isDirect, parseConversation, peerOf, userChannel } from "../domain/names.js";
import type { ChatServer, RealtimeDeps } from "./context.js";
import { type Listeners, perSocket } from "./with-ack.js";

/** Conversations a socket may be typing in within one interval. */
const TRACKED_MAX = 100;

/** Typing indicators: throttled per socket and conversation, volatile (dropped under load), never stored. */
export function typingListeners(io: ChatServer, deps: RealtimeDeps): Listeners {
  /** When each socket last announced each conversation. */
  const lastSentOf = perSocket(() => new Map<string, number>());

  return {
    typing(payload) {
      let conversation: ReturnType<typeof parseConversation>;
      try {
        conversation = parseConversation((payload as { to?: unknown } | null)?.to);
      } catch {
        return; // no ack to answer: a bad typing event is simply dropped
      }
      const mine = lastSentOf(this);
      const now = Date.now();
      const interval = deps.config.limits.typingIntervalMs;
      if (now - (mine.get(conversation) ?? 0) < interval) return;
      if (!mine.has(conversation) && mine.size >= TRACKED_MAX) {
        // Only entries whose interval has passed may go: they throttle nothing any more. Clearing
        // the rest would let a client reset its own throttle by typing into many conversations.
        for (const [other, at] of mine) if (now - at >= interval) mine.delete(other);
        if (mine.size >= TRACKED_MAX) return;
      }
      mine.set(conversation, now);

      const user = this.data.user;
      if (isDirect(conversation)) {
        io.to(userChannel(peerOf(conversation))).volatile.emit("typing", { conversation: `@${user}`, user });
      } else if (this.rooms.has(conversation)) {
        io.to(conversation).except(userChannel(user)).volatile.emit("typing", { conversation, user });
      }
    },
  };
}
