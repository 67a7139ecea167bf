import { loginLimitScripts } from "./login-limits.js";
import { messageScripts } from "./messages.js";
import { presenceScripts } from "./presence.js";
import { rateLimitScripts } from "./rate-limits.js";
import { readStateScripts } from "./read-state.js";
import { roomAccessScripts } from "./room-access.js";
import { roomScripts } from "./rooms.js";
import { userScripts } from "./users.js";

/**
 * Every Lua script of the stores, by the name the stores call it on a client: node-redis's
 * clients (standalone, Sentinel, cluster) are created with them (`scripts`). The stores import
 * only types from redis.ts, so this module and the client factory import no cycle.
 */
export const SCRIPTS = {
  ...loginLimitScripts,
  ...messageScripts,
  ...presenceScripts,
  ...rateLimitScripts,
  ...readStateScripts,
  ...roomAccessScripts,
  ...roomScripts,
  ...userScripts,
};

export type Scripts = typeof SCRIPTS;
