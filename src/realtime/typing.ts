import { isDirect, parseConversation, peerOf, userChannel } from "../domain/names.js";
import type { ChatServer, ChatSocket, RealtimeDeps } from "./context.js";

/** Typing indicators: throttled per socket and conversation, volatile (dropped under load), never stored. */
export function registerTyping(io: ChatServer, socket: ChatSocket, deps: RealtimeDeps): void {
  const user = socket.data.user;
  const lastSent = new Map<string, number>();

  socket.on("typing", (payload) => {
    let conversation: ReturnType<typeof parseConversation>;
    try {
      conversation = parseConversation((payload as { to?: unknown } | null)?.to);
    } catch {
      return; // no ack to answer: a bad typing event is simply dropped
    }
    const now = Date.now();
    if (now - (lastSent.get(conversation) ?? 0) < deps.config.limits.typingIntervalMs) return;
    lastSent.set(conversation, now);
    if (lastSent.size > 100) lastSent.clear();

    if (isDirect(conversation)) {
      io.to(userChannel(peerOf(conversation))).volatile.emit("typing", { conversation: `@${user}`, user });
    } else if (socket.rooms.has(conversation)) {
      io.to(conversation).except(userChannel(user)).volatile.emit("typing", { conversation, user });
    }
  });
}
