import { createHash } from "node:crypto";
import type { Redis } from "./redis.js";

export interface LuaScript {
  /** Runs by SHA1 (EVALSHA); loads the body only when Redis does not know it yet (after a restart). */
  run(redis: Redis, keys: string[], args: string[]): Promise<unknown>;
}

/** A Lua script sent by its hash: the hot path does not ship (and Redis does not re-hash) its body. */
export function lua(source: string): LuaScript {
  const sha = createHash("sha1").update(source).digest("hex");
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalSha(sha, { keys, arguments: args });
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
        return redis.eval(source, { keys, arguments: args });
      }
    },
  };
}
