import { type Conversation, type StreamName, streamOf, usernameKey } from "../domain/names.js";

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
  /**
   * A conversation's keys and channel share one hash tag (its stream name), so the send script
   * and its publish touch one hash slot of a Redis Cluster.
   */
  logOf(stream: StreamName): string;
  dedupe(stream: StreamName, from: string, clientId: string): string;
  /** What became of a conversation's edited and deleted messages (store/edits.ts), by message id. */
  edits(stream: StreamName): string;
  /** The sharded pub/sub channel that carries a conversation's new messages to subscribed workers. */
  live(stream: StreamName): string;
  /** The sharded pub/sub channel that tells a user's workers of DMs they may not follow yet. */
  notices(user: string): string;
  /** The socket.io adapter's pub/sub channel prefix (sharded adapter) or key (classic adapter). */
  adapterChannel: string;
  /** Every room with members, as a sorted set of score 0 (ordered by name, for paging). */
  roomIndex: string;
  /** The unordered set of rooms earlier versions kept; moved into `roomIndex` at start. */
  legacyRooms: string;
  roomMembers(room: string): string;
  /** A room's owner and whether it is private (a hash); tagged by the room like its stream. */
  roomAccess(room: string): string;
  userRooms(user: string): string;
  userDirects(user: string): string;
  /**
   * Presence keys share one hash tag: its scripts move counts between a worker's hash and the
   * totals in one step.
   */
  presenceOnline: string;
  presenceWorkers: string;
  presenceWorker(workerId: string): string;
  rate(kind: string, subject: string): string;
  /** A user's read marker per conversation; shares a hash slot with their mention counts. */
  readMarkers(user: string): string;
  mentionCounts(user: string): string;
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
    log: (conversation, viewer) => k(`log:{${streamOf(conversation, viewer)}}`),
    logOf: (stream) => k(`log:{${stream}}`),
    edits: (stream) => k(`edits:{${stream}}`),
    dedupe: (stream, from, clientId) => k(`dedupe:{${stream}}:${usernameKey(from)}:${clientId}`),
    live: (stream) => k(`live:{${stream}}`),
    notices: (user) => k(`notices:{@${usernameKey(user)}}`),
    adapterChannel: k("socket.io"),
    roomIndex: k("room-index"),
    legacyRooms: k("rooms"),
    roomMembers: (room) => k(`members:${room}`),
    roomAccess: (room) => k(`room:{${room}}`),
    userRooms: (user) => k(`rooms-of:${usernameKey(user)}`),
    userDirects: (user) => k(`directs-of:${usernameKey(user)}`),
    presenceOnline: k("presence:{online}"),
    presenceWorkers: k("presence:{online}:workers"),
    presenceWorker: (workerId) => k(`presence:{online}:worker:${workerId}`),
    rate: (kind, subject) => k(`rate:${kind}:${subject}`),
    readMarkers: (user) => k(`read:{${usernameKey(user)}}`),
    mentionCounts: (user) => k(`mentions:{${usernameKey(user)}}`),
    loginAttempts: (address, username) => k(`login:{${address}}:${usernameKey(username).slice(0, 64)}`),
    loginAddress: (address) => k(`login:{${address}}`),
  };
}
