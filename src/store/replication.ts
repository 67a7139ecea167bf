import type { ReplicaWait } from "../config.js";
import { AppError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { KeyPlacement, ReplicaNode } from "./redis.js";

/** How old the primary's count of connected replicas may be. */
const REPLICA_COUNT_MAX_AGE_MS = 1000;

export interface ReplicaConfirmer {
  /**
   * Resolves once enough replicas have every write this process made so far to the nodes that
   * hold `keys` (WAIT on each such node's connection).
   * @throws AppError E_UNAVAILABLE when connected replicas did not confirm in time.
   */
  confirm(keys: readonly string[]): Promise<void>;
}

/** One primary's replica count, refreshed from INFO in the background. */
interface PrimaryState {
  connected: number;
  checkedAt: number;
  checking: boolean;
  warned: boolean;
}

/**
 * Makes acknowledged sends survive a failover: Redis replicates asynchronously, so a primary that
 * dies right after a write may take it along, unless a replica confirmed it (WAIT) before the ack.
 * Called after a batch is stored, on the connections that stored it (WAIT counts one connection's
 * writes only): one primary, or on a Redis Cluster each primary the batch wrote to.
 *
 * It waits for `replicas`, or for as many as are connected when fewer are: with none connected
 * (the only replica was just promoted, or is down) there is no replica a failover could promote,
 * and refusing every send would stop the chat for nothing, so sends are acknowledged without
 * waiting and a warning is logged. When connected replicas do not confirm in time, the sends are
 * refused with E_UNAVAILABLE: the client resends with the same clientId, the store answers with
 * the stored id (nothing is stored twice), and the retry waits again.
 */
export function replicaConfirmer(placement: KeyPlacement, wait: ReplicaWait, log: Logger): ReplicaConfirmer {
  const states = new WeakMap<ReplicaNode, PrimaryState>();

  // A background refresh from INFO: the hot path never waits for it.
  const refresh = (node: ReplicaNode, state: PrimaryState): void => {
    if (state.checking || Date.now() - state.checkedAt < REPLICA_COUNT_MAX_AGE_MS) return;
    state.checking = true;
    node
      .info("replication")
      .then((info) => {
        state.connected = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
        state.checkedAt = Date.now();
        const short = state.connected < wait.replicas;
        if (short !== state.warned) {
          if (short)
            log.warn(
              { connected: state.connected, wanted: wait.replicas },
              "too few redis replicas: sends are acknowledged without waiting for them",
            );
          else log.info({ connected: state.connected }, "redis replicas back: sends wait for them again");
        }
        state.warned = short;
      })
      .catch(() => undefined)
      .finally(() => {
        state.checking = false;
      });
  };

  const confirmOn = async (node: ReplicaNode): Promise<void> => {
    let state = states.get(node);
    if (state === undefined) {
      state = { connected: wait.replicas, checkedAt: 0, checking: false, warned: false };
      states.set(node, state);
    }
    refresh(node, state);
    const replicas = Math.min(wait.replicas, state.connected);
    if (replicas === 0) return;
    const confirmed = await node.wait(replicas, wait.timeoutMs);
    if (confirmed < replicas) throw new AppError("E_UNAVAILABLE", "storage is not replicated yet, retry shortly");
  };

  return {
    async confirm(keys) {
      const nodes = new Set(await Promise.all(keys.map((key) => placement.nodeFor(key))));
      await Promise.all([...nodes].map(confirmOn));
    },
  };
}
