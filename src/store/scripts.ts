import { type CommandParser, defineScript } from "@redis/client";

/**
 * A Lua script for node-redis's own script support: registered with every client
 * (script-registry.ts) and called as `redis.<name>(keys, args)`. node-redis sends it by SHA1
 * (EVALSHA) and its body only when Redis does not know it yet (after a restart, or on a cluster
 * node that has not run it); on a Redis Cluster it goes to the master of its first key's slot.
 */
export function luaScript<Reply>(source: string) {
  return defineScript({
    SCRIPT: source,
    parseCommand(parser: CommandParser, keys: readonly string[], args: readonly string[]) {
      parser.pushKeysLength([...keys]);
      parser.push(...args);
    },
    transformReply: (reply: unknown) => reply as Reply,
  });
}
