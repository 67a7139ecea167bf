import type { Message } from "../domain/messages.js";
import { type Conversation, isDirect, userChannel } from "../domain/names.js";
import { compareIds } from "../domain/stream-ids.js";
import type { Counters } from "../lib/metrics.js";
import type { FeedMessage } from "../store/feed.js";
import type { ChatServer, ChatSocket } from "./context.js";

/** Sockets in this (local) room get live messages queued instead of sent: see Delivery.hold. */
const HOLDING = "~holding";

/** The newest message id a socket has been sent, per conversation (lower-cased), during a hold. */
export type Sent = Map<string, string>;

export interface Delivery {
  /** Delivers stored messages, in stored order, to this worker's sockets of every recipient. */
  deliver(messages: FeedMessage[]): void;
  /**
   * Runs `work` (a catch-up, a room join) while live messages for this socket are queued, then
   * sends the queued ones it has not sent yet, so the socket sees each conversation exactly once
   * and in id order. Holds of one socket run one after the other.
   */
  hold(socket: ChatSocket, work: (sent: Sent) => Promise<void>): Promise<void>;
}

/** How a stored message reaches sockets: to whom, and named how from their side. */
export function routesOf(message: FeedMessage): { channel: string; conversation: Conversation }[] {
  if (!isDirect(message.to)) return [{ channel: message.to, conversation: message.to }];
  const sender = { channel: userChannel(message.from), conversation: message.to };
  const recipient = { channel: userChannel(message.to.slice(1)), conversation: `@${message.from}` as Conversation };
  return sender.channel === recipient.channel ? [sender] : [recipient, sender];
}

export const sentKey = (conversation: string): string => conversation.toLowerCase();

/** How long a hold waits for this worker's feed reader to catch up before releasing anyway. */
const SYNC_TIMEOUT_MS = 3000;

/**
 * @param syncFeed resolves once the worker's feed reader has delivered everything stored so far:
 * a hold ends only then, so a message the catch-up read already sent cannot arrive again live.
 */
export function createDelivery(io: ChatServer, syncFeed: (timeoutMs: number) => Promise<void>, counters: Counters): Delivery {
  const queues = new Map<string, { socket: ChatSocket; queue: Message[] }>();
  const chains = new WeakMap<ChatSocket, Promise<void>>();

  const deliverOne = (message: FeedMessage): void => {
    for (const { channel, conversation } of routesOf(message)) {
      // Every worker reads every message; with several workers, many have no recipient here.
      const here = io.of("/").adapter.rooms.get(channel)?.size ?? 0;
      if (here === 0) continue;
      const out: Message = {
        id: message.id,
        conversation,
        from: message.from,
        text: message.text,
        ts: message.ts,
        clientId: message.clientId,
      };
      // Excluding a room costs a set computation per broadcast: only when someone is holding.
      const local = io.local.to(channel);
      (queues.size > 0 ? local.except(HOLDING) : local).emit("message:new", out);
      counters.messagesDelivered += here;
      for (const held of queues.values()) if (held.socket.rooms.has(channel)) held.queue.push(out);
    }
  };

  const runHold = async (socket: ChatSocket, work: (sent: Sent) => Promise<void>): Promise<void> => {
    const sent: Sent = new Map();
    const held = { socket, queue: [] as Message[] };
    queues.set(socket.id, held);
    socket.join(HOLDING);
    try {
      await work(sent);
      await syncFeed(SYNC_TIMEOUT_MS);
    } finally {
      queues.delete(socket.id);
      socket.leave(HOLDING);
      for (const message of held.queue) {
        const last = sent.get(sentKey(message.conversation));
        if (last !== undefined && compareIds(message.id, last) <= 0) continue;
        socket.emit("message:new", message);
      }
    }
  };

  return {
    deliver(messages) {
      for (const message of messages) deliverOne(message);
    },
    hold(socket, work) {
      const previous = chains.get(socket) ?? Promise.resolve();
      const next = previous.then(() => (socket.connected ? runHold(socket, work) : undefined));
      // The last hold of a socket removes its chain: an idle socket keeps none (B4).
      const settled: Promise<void> = next
        .catch(() => undefined)
        .then(() => {
          if (chains.get(socket) === settled) chains.delete(socket);
        });
      chains.set(socket, settled);
      return next;
    },
  };
}
