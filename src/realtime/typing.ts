import { isDirect, parseConversation, peerOf, userChannel } from "../domain/names.js";
import type { ChatServer, RealtimeDeps } from "./context.js";
import { type Listeners, perSocket } from "./with-ack.js";

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
      if (now - (mine.get(conversation) ?? 0) < deps.config.limits.typingIntervalMs) return;
      mine.set(conversation, now);
      if (mine.size > 100) mine.clear();

      const user = this.data.user;
      if (isDirect(conversation)) {
        io.to(userChannel(peerOf(conversation))).volatile.emit("typing", { conversation: `@${user}`, user });
      } else if (this.rooms.has(conversation)) {
        io.to(conversation).except(userChannel(user)).volatile.emit("typing", { conversation, user });
      }
    },
  };
}
