import type { PubSubClient } from "./redis.js";

/**
 * @socket.io/redis-adapter calls PUBLISH and (P)(UN)SUBSCRIBE without handling their promises, so
 * a Redis outage (or a close while a worker drains) would surface as unhandled rejections, which
 * end the process. These wrappers give it clients whose promises are always handled.
 */

/** Runs node-redis methods with the real client as `this` (they use private fields). */
function boundProxy(client: PubSubClient, overrides: Record<string, unknown>): PubSubClient {
  return new Proxy(client, {
    get(target, property) {
      if (typeof property === "string" && property in overrides) return overrides[property];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * The publishing client: a failed PUBLISH is reported and dropped. Lost broadcasts are acceptable
 * (presence and typing are refreshed on reconnect; messages travel through the feed); a crash is not.
 */
export function adapterPublisher(client: PubSubClient, onDropped: (err: unknown) => void): PubSubClient {
  const dropping =
    (method: "publish" | "sPublish") =>
    async (channel: string, message: string | Buffer): Promise<number> => {
      try {
        return await client[method](channel, message);
      } catch (err) {
        onDropped(err);
        return 0;
      }
    };
  return boundProxy(client, { publish: dropping("publish"), sPublish: dropping("sPublish") });
}

export interface AdapterSubscriber {
  client: PubSubClient;
  /** Settles when every subscription the adapter asked for is in place; rejects if one failed. */
  subscribed(): Promise<void>;
}

/**
 * The subscribing client. A SUBSCRIBE that fails is never retried by node-redis (it only restores
 * subscriptions that succeeded), so the worker would silently miss every broadcast: its start
 * awaits `subscribed()` and fails loudly instead, and the primary starts a new one.
 * Unsubscribing happens only while closing, where a failure does not matter.
 */
export function adapterSubscriber(client: PubSubClient): AdapterSubscriber {
  const pending: Promise<unknown>[] = [];
  const track =
    (method: "subscribe" | "pSubscribe" | "sSubscribe") =>
    (...args: unknown[]) => {
      const done = Reflect.apply(client[method], client, args) as Promise<unknown>;
      done.catch(() => undefined); // handled by subscribed(); this keeps it from being "unhandled" first
      pending.push(done);
      return done;
    };
  const quiet =
    (method: "unsubscribe" | "pUnsubscribe" | "sUnsubscribe") =>
    (...args: unknown[]) =>
      (Reflect.apply(client[method], client, args) as Promise<unknown>).catch(() => undefined);
  return {
    client: boundProxy(client, {
      subscribe: track("subscribe"),
      pSubscribe: track("pSubscribe"),
      sSubscribe: track("sSubscribe"),
      unsubscribe: quiet("unsubscribe"),
      pUnsubscribe: quiet("pUnsubscribe"),
      sUnsubscribe: quiet("sUnsubscribe"),
    }),
    subscribed: async () => {
      await Promise.all(pending);
    },
  };
}
