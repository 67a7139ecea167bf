import { usernameKey } from "../domain/names.js";
import type { ChatSocket } from "./context.js";
import { perSocket } from "./with-ack.js";

/** A token bucket: `burst` events at once, then `rate` per second. */
class Bucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether it has refilled: then it is no different from a new one and can be forgotten. */
  full(now: number): boolean {
    return this.tokens + ((now - this.last) / 1000) * this.rate >= this.burst;
  }
}

export interface BudgetSettings {
  socketRate: number;
  socketBurst: number;
  userRate: number;
  userBurst: number;
}

/** How often the users' buckets that refilled are dropped. */
const SWEEP_EVERY_MS = 10_000;

/**
 * One budget for every client event, per socket and per user. The user's bucket is this worker's:
 * a user's sockets on other workers have their own there, and SOCKETS_PER_USER bounds how many
 * there can be. Kept in memory because a Redis round trip per event would double the cost of most.
 */
export interface EventBudget {
  /** Takes one event from the socket's and its user's buckets; false when either is empty. */
  take(socket: ChatSocket): boolean;
}

export function createEventBudget(settings: BudgetSettings): EventBudget {
  const socketBucket = perSocket(() => new Bucket(settings.socketRate, settings.socketBurst, Date.now()));
  const users = new Map<string, Bucket>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [user, bucket] of users) if (bucket.full(now)) users.delete(user);
  }, SWEEP_EVERY_MS);
  sweep.unref();

  return {
    take(socket) {
      const now = Date.now();
      if (!socketBucket(socket).take(now)) return false;
      const user = usernameKey(socket.data.user);
      let bucket = users.get(user);
      if (bucket === undefined) {
        bucket = new Bucket(settings.userRate, settings.userBurst, now);
        users.set(user, bucket);
      }
      return bucket.take(now);
    },
  };
}
