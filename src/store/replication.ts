import type { ReplicaWait } from "../config.js";
import { AppError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { Redis } from "./redis.js";

/** How old the primary's count of connected replicas may be. */
const REPLICA_COUNT_MAX_AGE_MS = 1000;

export interface ReplicaConfirmer {
  /**
   * Resolves once enough replicas have every write this connection made so far (WAIT).
   * @throws AppError E_UNAVAILABLE when connected replicas did not confirm in time.
   */
  confirm(): Promise<void>;
}

/**
 * Makes acknowledged sends survive a failover: Redis replicates asynchronously, so a primary that
 * dies right after a write may take it along, unless a replica confirmed it (WAIT) before the ack.
 * Called after a batch is stored, on the connection that stored it (WAIT counts that connection's
 * writes only).
 *
 * It waits for `replicas`, or for as many as are connected when fewer are: with none connected
 * (the only replica was just promoted, or is down) there is no replica a failover could promote,
 * and refusing every send would stop the chat for nothing, so sends are acknowledged without
 * waiting and a warning is logged. When connected replicas do not confirm in time, the sends are
 * refused with E_UNAVAILABLE: the client resends with the same clientId, the store answers with
 * the stored id (nothing is stored twice), and the retry waits again.
 */
export function replicaConfirmer(redis: Redis, wait: ReplicaWait, log: Logger): ReplicaConfirmer {
  let connected = wait.replicas;
  let checkedAt = 0;
  let checking = false;
  let warned = false;

  // A background refresh from INFO: the hot path never waits for it.
  const refresh = (): void => {
    if (checking || Date.now() - checkedAt < REPLICA_COUNT_MAX_AGE_MS) return;
    checking = true;
    redis
      .info("replication")
      .then((info) => {
        connected = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
        checkedAt = Date.now();
        const short = connected < wait.replicas;
        if (short !== warned) {
          if (short)
            log.warn({ connected, wanted: wait.replicas }, "too few redis replicas: sends are acknowledged without waiting for them");
          else log.info({ connected }, "redis replicas back: sends wait for them again");
        }
        warned = short;
      })
      .catch(() => undefined)
      .finally(() => {
        checking = false;
      });
  };

  return {
    async confirm() {
      refresh();
      const replicas = Math.min(wait.replicas, connected);
      if (replicas === 0) return;
      const confirmed = await redis.wait(replicas, wait.timeoutMs);
      if (confirmed < replicas) throw new AppError("E_UNAVAILABLE", "storage is not replicated yet, retry shortly");
    },
  };
}
