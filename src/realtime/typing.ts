import { isDirect, parseConversation, peerOf, type StreamName } from "../domain/names.js";
import type { RealtimeDeps } from "./context.js";
import type { Delivery } from "./delivery.js";
import { type Listeners, perSocket } from "./with-ack.js";

/** Conversations a socket may be typing in within one interval. */
const TRACKED_MAX = 100;

/**
 * Typing indicators: throttled per socket and conversation, volatile (dropped under load), never
 * stored, and carried like the conversation's messages, so a worker hears only conversations its
 * sockets are in.
 */
export function typingListeners(deps: RealtimeDeps, delivery: Delivery): Listeners {
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
      if (isDirect(conversation)) delivery.typing({ peer: peerOf(conversation) }, user);
      else if (this.rooms.has(conversation)) delivery.typing({ room: conversation as StreamName }, user);
    },
  };
}
