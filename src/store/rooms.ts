import { type DirectName, type RoomName, usernameKey } from "../domain/names.js";
import { AppError } from "../lib/errors.js";
import type { Keys } from "./keys.js";
import type { RateLimiter } from "./rate-limits.js";
import type { Redis } from "./redis.js";
import { luaScript } from "./scripts.js";

/** The legacy key is no set (already moved, or another use of the name): nothing to move. */
const wrongType = (err: unknown): string[] => {
  if (err instanceof Error && err.message.startsWith("WRONGTYPE")) return [];
  throw err;
};

export interface RoomSummary {
  room: RoomName;
  members: number;
}

export interface RoomPage {
  rooms: RoomSummary[];
  /** Where the next page starts; absent on the last page. */
  next?: string;
}

export interface RoomLimits {
  /** Rooms a user may belong to, #general included. */
  perUser: number;
  /** Rooms a user may create per hour. */
  createPerHour: number;
}

export interface Joined {
  /** Whether the room is private (members join it by invitation only). */
  private: boolean;
}

/** Who belongs where: kept in Redis so a reconnect to any worker on any host rejoins the same rooms. */
export interface RoomStore {
  /**
   * Joins a public room, or re-joins one the user belongs to; the first joiner of a new room owns it.
   * @throws E_FORBIDDEN for a private room the user is not a member of, or past the rooms a user
   * may belong to; E_RATE_LIMITED past the rooms a user may create.
   */
  join(user: string, room: RoomName): Promise<Joined>;
  /** Leaves; a room nobody is left in is no longer listed, and loses its owner and privacy. */
  leave(user: string, room: RoomName): Promise<void>;
  roomsOf(user: string): Promise<RoomName[]>;
  /** Peers the user has exchanged direct messages with, as `@Name`. */
  directsOf(user: string): Promise<DirectName[]>;
  /** How many members each room has. */
  memberCounts(rooms: readonly RoomName[]): Promise<number[]>;
  /** Every member of a room, unordered: for rooms known to be small. */
  membersOf(room: RoomName): Promise<string[]>;
  /** Up to `count` rooms in name order, after `cursor` (the last room of the previous page) if given. */
  list(cursor: RoomName | undefined, count: number): Promise<RoomPage>;
  /** Moves the room set of earlier versions into the index (once; later calls find nothing to do). */
  migrate(): Promise<void>;
}

// A private room's history was for its members only: it goes with the last of them, so whoever
// creates the name again reads nothing of it. The room's record and stream share its hash tag.
const FORGET_ACCESS = luaScript<number>(`
if redis.call('HGET', KEYS[1], 'private') == '1' then redis.call('DEL', KEYS[2]) end
redis.call('DEL', KEYS[1])
return 1`);

// A non-member may join unless the room is private; the first joiner of a new room becomes its
// owner. One key, so a private room created at the same moment is seen either way.
const MAY_JOIN = luaScript<number>(`
if redis.call('HGET', KEYS[1], 'private') == '1' then return 0 end
if ARGV[2] == '1' then redis.call('HSETNX', KEYS[1], 'owner', ARGV[1]) end
return 1`);

/** Registered with every Redis client (script-registry.ts). */
export const roomScripts = { roomForgetAccess: FORGET_ACCESS, roomMayJoin: MAY_JOIN };

export const notInvited = (room: RoomName): AppError => new AppError("E_FORBIDDEN", `${room} is private: ask its owner for an invitation`);

/** Adds and removes memberships: the user's set, the room's set and (for public rooms) the room index. */
export interface Memberships {
  add(user: string, room: RoomName, listed: boolean): Promise<void>;
  remove(user: string, room: RoomName): Promise<void>;
  /** @throws E_FORBIDDEN when the user already belongs to as many rooms as allowed. */
  assertRoomFor(user: string, limit: number, subject?: string): Promise<void>;
}

export function createMemberships(redis: Redis, keys: Keys): Memberships {
  return {
    // Not one transaction: each write is idempotent, a failed join is retried whole, and the keys
    // need not share a hash slot (Redis Cluster). The room is listed only after its member is added,
    // so a leave that finds the room empty and unlists it sees this member when it checks again.
    async add(user, room, listed) {
      await Promise.all([redis.sAdd(keys.userRooms(user), room), redis.sAdd(keys.roomMembers(room), user)]);
      if (listed) await redis.zAdd(keys.roomIndex, { score: 0, value: room });
    },
    async remove(user, room) {
      await Promise.all([redis.sRem(keys.userRooms(user), room), redis.sRem(keys.roomMembers(room), user)]);
    },
    async assertRoomFor(user, limit, subject = "you are") {
      const count = await redis.sCard(keys.userRooms(user));
      if (count >= limit) throw new AppError("E_FORBIDDEN", `${subject} in ${limit} rooms already: leave one first`);
    },
  };
}

export function createRoomStore(redis: Redis, keys: Keys, limiter: RateLimiter, limits: RoomLimits): RoomStore {
  const memberships = createMemberships(redis, keys);

  /**
   * Unlists a room nobody is in; true when it did. The members and the list are in different hash
   * slots, so no script can decide both: after unlisting, the room is listed again if a join came
   * in between.
   */
  const forgetIfEmpty = async (room: RoomName): Promise<boolean> => {
    if ((await redis.sCard(keys.roomMembers(room))) > 0) return false;
    await redis.zRem(keys.roomIndex, room);
    if ((await redis.sCard(keys.roomMembers(room))) === 0) return true;
    const access = await redis.hGet(keys.roomAccess(room), "private");
    if (access !== "1") await redis.zAdd(keys.roomIndex, { score: 0, value: room });
    return false;
  };

  const memberCounts = (rooms: readonly RoomName[]): Promise<number[]> =>
    Promise.all(rooms.map((room) => redis.sCard(keys.roomMembers(room))));

  return {
    async join(user, room) {
      const [member, count, exists, privacy] = await Promise.all([
        redis.sIsMember(keys.userRooms(user), room),
        redis.sCard(keys.userRooms(user)),
        redis.exists(keys.roomMembers(room)),
        redis.hGet(keys.roomAccess(room), "private"),
      ]);
      const isPrivate = privacy === "1";
      if (!member) {
        if (isPrivate) throw notInvited(room);
        if (count >= limits.perUser) throw new AppError("E_FORBIDDEN", `you are in ${limits.perUser} rooms already: leave one first`);
        // Counted only when the room is new: joining existing rooms is bounded by the rooms per user.
        if (!exists) await limiter.hit("room-create", usernameKey(user), limits.createPerHour, 3600);
        const allowed = await redis.roomMayJoin([keys.roomAccess(room)], [user, exists ? "0" : "1"]);
        if (allowed !== 1) throw notInvited(room);
      }
      await memberships.add(user, room, !isPrivate);
      return { private: isPrivate };
    },
    async leave(user, room) {
      await memberships.remove(user, room);
      // A name nobody uses any more is free for anyone to create again, public or private.
      if (await forgetIfEmpty(room)) await redis.roomForgetAccess([keys.roomAccess(room), keys.logOf(room)], []);
    },
    async roomsOf(user) {
      return ((await redis.sMembers(keys.userRooms(user))) as RoomName[]).sort();
    },
    async directsOf(user) {
      return ((await redis.sMembers(keys.userDirects(user))) as DirectName[]).sort();
    },
    memberCounts,
    membersOf: (room) => redis.sMembers(keys.roomMembers(room)),
    async list(cursor, count) {
      // One more than asked tells whether another page follows.
      const from = cursor === undefined ? "-" : `(${cursor}`;
      const found = (await redis.zRange(keys.roomIndex, from, "+", { BY: "LEX", LIMIT: { offset: 0, count: count + 1 } })) as RoomName[];
      const rooms = found.slice(0, count);
      const counts = await memberCounts(rooms);
      const summaries = rooms.map((room, i) => ({ room, members: counts[i] ?? 0 }));
      const last = rooms.at(-1);
      return found.length > count && last !== undefined ? { rooms: summaries, next: last } : { rooms: summaries };
    },
    async migrate() {
      // Not one script (the two keys are in different hash slots of a cluster); each step can run
      // again, so workers starting together or a start cut short still end with every room listed.
      const legacy = await redis.sMembers(keys.legacyRooms).catch(wrongType);
      if (legacy.length === 0) return;
      await redis.zAdd(
        keys.roomIndex,
        legacy.map((room) => ({ score: 0, value: room })),
      );
      await redis.del(keys.legacyRooms);
    },
  };
}
