import { type Conversation, isDirect, peerOf, usernameKey } from "../domain/names.js";

/** Every Redis key name, under one prefix, so several deployments (or tests) share a Redis safely. */
export interface Keys {
  readonly prefix: string;
  user(name: string): string;
  /** connect-redis's prefix; `session(id)` is one session's key under it. */
  sessions: string;
  session(id: string): string;
  sessionSecret: string;
  /** The stream of a conversation as `viewer` names it; a DM pair shares one stream. */
  log(conversation: Conversation, viewer: string): string;
  dedupe(log: string, from: string, clientId: string): string;
  /** Every message of every conversation, in the order stored: what workers tail to deliver. */
  feed: string;
  /** Every room with members, as a sorted set of score 0 (ordered by name, for paging). */
  roomIndex: string;
  /** The unordered set of rooms earlier versions kept; moved into `roomIndex` at start. */
  legacyRooms: string;
  roomMembers(room: string): string;
  userRooms(user: string): string;
  userDirects(user: string): string;
  presenceOnline: string;
  presenceWorkers: string;
  presenceWorker(workerId: string): string;
  rate(kind: string, subject: string): string;
  /** Login attempts on one username from one address; shares a hash slot with `loginAddress`. */
  loginAttempts(address: string, username: string): string;
  /** Failed login attempts from one address, over every username. */
  loginAddress(address: string): string;
}

export function createKeys(prefix: string): Keys {
  const k = (suffix: string): string => `${prefix}${suffix}`;
  return {
    prefix,
    user: (name) => k(`user:${usernameKey(name)}`),
    sessions: k("sess:"),
    session: (id) => k(`sess:${id}`),
    sessionSecret: k("session-secret"),
    log: (conversation, viewer) => {
      if (!isDirect(conversation)) return k(`log:${conversation}`);
      const pair = [usernameKey(viewer), peerOf(conversation)].sort();
      return k(`log:@${pair[0]}:@${pair[1]}`);
    },
    dedupe: (log, from, clientId) => k(`dedupe:${log.slice(prefix.length)}:${usernameKey(from)}:${clientId}`),
    feed: k("feed"),
    roomIndex: k("room-index"),
    legacyRooms: k("rooms"),
    roomMembers: (room) => k(`members:${room}`),
    userRooms: (user) => k(`rooms-of:${usernameKey(user)}`),
    userDirects: (user) => k(`directs-of:${usernameKey(user)}`),
    presenceOnline: k("presence:online"),
    presenceWorkers: k("presence:workers"),
    presenceWorker: (workerId) => k(`presence:worker:${workerId}`),
    rate: (kind, subject) => k(`rate:${kind}:${subject}`),
    loginAttempts: (address, username) => k(`login:{${address}}:${usernameKey(username).slice(0, 64)}`),
    loginAddress: (address) => k(`login:{${address}}`),
  };
}
