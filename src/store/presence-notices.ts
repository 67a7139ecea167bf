import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../lib/logger.js";
import type { Keys } from "./keys.js";
import type { LiveSubscriber, Redis } from "./redis.js";

/**
 * Who came online or went offline travels on one sharded pub/sub channel that a worker hears only
 * while it has sockets to tell: a worker without clients (an idle host, a drained one) spends
 * nothing on the comings and goings of the rest of the deployment.
 */
export interface PresenceNotices {
  /** Tells every listening worker, this one included, that these users may have changed. */
  publish(users: readonly string[]): void;
  /** Starts or stops hearing changes (idempotent); the subscription follows the last call. */
  listen(on: boolean): void;
  /** Stops for good: nothing is heard or retried any more. */
  stop(): void;
}

const RETRY_MS = 1000;

/** Usernames hold no newline, so one per line. */
const encode = (users: readonly string[]): string => users.join("\n");
const decode = (payload: string): string[] => payload.split("\n").filter((user) => user.length > 0);

export function createPresenceNotices(
  live: LiveSubscriber,
  redis: Redis,
  keys: Keys,
  heard: (users: string[]) => void,
  log: Logger,
): PresenceNotices {
  const channel = keys.presenceChanges;
  const onNotice = (payload: string): void => heard(decode(payload));
  let wanted = false;
  let subscribed = false;
  let settling = false;
  let stopped = false;

  /** Brings the subscription to what is wanted, one command at a time, retrying while Redis is away. */
  const settle = async (): Promise<void> => {
    if (settling) return;
    settling = true;
    let warned = false;
    while (wanted !== subscribed && !stopped) {
      const subscribing = wanted;
      try {
        if (subscribing) await live.client.sSubscribe(channel, onNotice);
        else await live.client.sUnsubscribe(channel, onNotice);
        subscribed = subscribing;
      } catch (err) {
        if (!warned) log.warn({ err: (err as Error).message }, "presence notices: subscription failed; retrying");
        warned = true;
        await sleep(RETRY_MS);
      }
    }
    settling = false;
  };

  return {
    publish(users) {
      if (users.length === 0) return;
      // Lost with Redis: clients ask for presence:list again when they reconnect.
      redis.sPublish(channel, encode(users)).catch((err: Error) => log.debug({ err: err.message }, "presence notice dropped"));
    },
    listen(on) {
      wanted = on;
      void settle();
    },
    stop() {
      stopped = true;
      wanted = false;
    },
  };
}
