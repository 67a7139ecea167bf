import { setTimeout as sleep } from "node:timers/promises";
import type { Conversation } from "../domain/names.js";
import { compareIds, timestampOf } from "../domain/stream-ids.js";
import type { Logger } from "../lib/logger.js";
import type { Keys } from "./keys.js";
import { guarded, type Redis } from "./redis.js";
import { maxDeletedId } from "./stream-info.js";

/** A stored message as the feed carries it: addressed as its sender addressed it. */
export interface FeedMessage {
  id: string;
  to: Conversation;
  from: string;
  text: string;
  ts: number;
  clientId: string;
}

export interface FeedHandlers {
  /** Called with each batch in the order the messages were stored. */
  deliver(messages: FeedMessage[]): void;
  /** Called when entries were trimmed before this worker read them: its sockets must catch up. */
  lost(): void;
}

export interface FeedReader {
  /**
   * Resolves once this reader has delivered everything stored before the call (or after `timeoutMs`).
   * A catch-up read on another connection may see messages this reader has not delivered yet.
   */
  sync(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

const BLOCK_MS = 1000;
const BATCH = 1000;

/**
 * Tails the delivery feed on a dedicated (blocking) connection. Unlike pub/sub, a reader that
 * loses its connection resumes after the last entry it saw, so no live delivery is lost to a
 * Redis blip; and every worker sees every conversation's messages in stored order.
 */
export async function startFeedReader(blocking: Redis, redis: Redis, keys: Keys, handlers: FeedHandlers, log: Logger): Promise<FeedReader> {
  let running = true;
  let lastId = await tailId(redis, keys.feed);
  let failing = false;
  const waiters = new Set<{ id: string; resolve: () => void }>();
  const wake = () => {
    for (const waiter of waiters) {
      if (compareIds(waiter.id, lastId) <= 0) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  };

  const loop = (async () => {
    while (running) {
      try {
        const reply = await blocking.xRead({ key: keys.feed, id: lastId }, { BLOCK: BLOCK_MS, COUNT: BATCH });
        if (failing) {
          failing = false;
          if (await missedEntries(blocking, keys.feed, lastId)) handlers.lost();
        }
        const entries = (reply as { messages: { id: string; message: Record<string, string> }[] }[] | null)?.[0]?.messages ?? [];
        if (entries.length === 0) continue;
        // A full batch means this reader is behind: make sure trimming has not overtaken it.
        if (entries.length === BATCH && (await missedEntries(blocking, keys.feed, lastId))) handlers.lost();
        lastId = entries[entries.length - 1]?.id ?? lastId;
        handlers.deliver(entries.map(toFeedMessage));
        wake();
      } catch (err) {
        if (!running) break;
        if (!failing) log.warn({ err: (err as Error).message }, "delivery feed read failed; retrying");
        failing = true;
        await sleep(250);
      }
    }
  })();

  const tail = sharedRead(() => tailId(redis, keys.feed));

  return {
    async sync(timeoutMs) {
      const target = await tail();
      if (compareIds(target, lastId) <= 0) return;
      await new Promise<void>((resolve) => {
        const waiter = { id: target, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          waiters.delete(waiter);
          resolve();
        }, timeoutMs).unref();
      });
    },
    async stop() {
      running = false;
      await loop;
      for (const waiter of waiters) waiter.resolve();
    },
  };
}

/**
 * Shares one read among concurrent callers without handing anyone a stale answer: a caller that
 * arrives while a read is in flight waits for the next one, which starts when that read ends and
 * serves everyone who arrived meanwhile. Every connection's catch-up asks for the feed's tail, so
 * a reconnect storm of thousands costs a handful of reads.
 */
function sharedRead<T>(read: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const started = read().finally(() => {
      if (current === started) current = undefined;
    });
    current = started;
    return started;
  };
  const startNext = (): Promise<T> => {
    next = undefined;
    return start();
  };
  return () => {
    if (current === undefined) return start();
    next ??= current.then(startNext, startNext);
    return next;
  };
}

async function tailId(redis: Redis, feed: string): Promise<string> {
  const last = await guarded(() => redis.xRevRange(feed, "+", "-", { COUNT: 1 }));
  return last?.[0]?.id ?? "0-0";
}

/** Whether entries newer than `lastId` were trimmed before they could be read. */
async function missedEntries(redis: Redis, feed: string, lastId: string): Promise<boolean> {
  return compareIds(await maxDeletedId(redis, feed), lastId) > 0;
}

function toFeedMessage(entry: { id: string; message: Record<string, string> }): FeedMessage {
  const { id = entry.id, to = "#general", from = "", text = "", cid = "" } = entry.message;
  return { id, to: to as Conversation, from, text, ts: timestampOf(id), clientId: cid };
}
