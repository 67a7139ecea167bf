// The one-command client lives beside the launcher, which uses it too; tests keep importing it from here.
export { commandOn } from "../../src/lib/redis-server.js";
