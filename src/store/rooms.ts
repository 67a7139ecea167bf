import { type DirectName, type RoomName, usernameKey } from "../domain/names.js";
import { AppError } from "../lib/errors.js";
import type { Keys } from "./keys.js";
import type { RateLimiter } from "./rate-limits.js";
import { guarded, type Redis } from "./redis.js";

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

/** Who belongs where: kept in Redis so a reconnect to any worker on any host rejoins the same rooms. */
export interface RoomStore {
  /** @throws E_FORBIDDEN past the rooms a user may belong to, E_RATE_LIMITED past the rooms a user may create. */
  join(user: string, room: RoomName): Promise<void>;
  /** Leaves; a room nobody is left in is no longer listed. */
  leave(user: string, room: RoomName): Promise<void>;
  roomsOf(user: string): Promise<RoomName[]>;
  /** Peers the user has exchanged direct messages with, as `@Name`. */
  directsOf(user: string): Promise<DirectName[]>;
  /** Up to `count` rooms in name order, after `cursor` (the last room of the previous page) if given. */
  list(cursor: RoomName | undefined, count: number): Promise<RoomPage>;
  /** Moves the room set of earlier versions into the index (once; later calls find nothing to do). */
  migrate(): Promise<void>;
}

export function createRoomStore(redis: Redis, keys: Keys, limiter: RateLimiter, limits: RoomLimits): RoomStore {
  // Not one transaction: each add is idempotent, a failed join is retried whole, and the keys need
  // not share a hash slot (Redis Cluster). The room is listed only after its member is added, so a
  // leave that finds the room empty and unlists it sees this member when it checks again (forget).
  const add = async (user: string, room: RoomName) => {
    await guarded(() => Promise.all([redis.sAdd(keys.userRooms(user), room), redis.sAdd(keys.roomMembers(room), user)]));
    await guarded(() => redis.zAdd(keys.roomIndex, { score: 0, value: room }));
  };

  /**
   * Unlists a room nobody is in. The members and the list are in different hash slots, so no
   * script can decide both: after unlisting, the room is listed again if a join came in between.
   */
  const forgetIfEmpty = async (room: RoomName) => {
    if ((await guarded(() => redis.sCard(keys.roomMembers(room)))) > 0) return;
    await guarded(() => redis.zRem(keys.roomIndex, room));
    if ((await guarded(() => redis.sCard(keys.roomMembers(room)))) > 0)
      await guarded(() => redis.zAdd(keys.roomIndex, { score: 0, value: room }));
  };

  return {
    async join(user, room) {
      const [member, count, exists] = await guarded(() =>
        Promise.all([redis.sIsMember(keys.userRooms(user), room), redis.sCard(keys.userRooms(user)), redis.exists(keys.roomMembers(room))]),
      );
      if (!member) {
        if (count >= limits.perUser) throw new AppError("E_FORBIDDEN", `you are in ${limits.perUser} rooms already: leave one first`);
        // Counted only when the room is new: joining existing rooms is bounded by the rooms per user.
        if (!exists) await limiter.hit("room-create", usernameKey(user), limits.createPerHour, 3600);
      }
      await add(user, room);
    },
    async leave(user, room) {
      // Sent together, not as one transaction: each removal is idempotent, and the keys need not
      // share a hash slot (Redis Cluster).
      await guarded(() => Promise.all([redis.sRem(keys.userRooms(user), room), redis.sRem(keys.roomMembers(room), user)]));
      await forgetIfEmpty(room);
    },
    async roomsOf(user) {
      return ((await guarded(() => redis.sMembers(keys.userRooms(user)))) as RoomName[]).sort();
    },
    async directsOf(user) {
      return ((await guarded(() => redis.sMembers(keys.userDirects(user)))) as DirectName[]).sort();
    },
    async list(cursor, count) {
      // One more than asked tells whether another page follows.
      const from = cursor === undefined ? "-" : `(${cursor}`;
      const found = (await guarded(() =>
        redis.zRange(keys.roomIndex, from, "+", { BY: "LEX", LIMIT: { offset: 0, count: count + 1 } }),
      )) as RoomName[];
      const rooms = found.slice(0, count);
      const counts = await guarded(() => Promise.all(rooms.map((room) => redis.sCard(keys.roomMembers(room)))));
      const summaries = rooms.map((room, i) => ({ room, members: counts[i] ?? 0 }));
      const last = rooms.at(-1);
      return found.length > count && last !== undefined ? { rooms: summaries, next: last } : { rooms: summaries };
    },
    async migrate() {
      // Not one script (the two keys are in different hash slots of a cluster); each step can run
      // again, so workers starting together or a start cut short still end with every room listed.
      const legacy = await guarded(() => redis.sMembers(keys.legacyRooms).catch(wrongType));
      if (legacy.length === 0) return;
      await guarded(() =>
        redis.zAdd(
          keys.roomIndex,
          legacy.map((room) => ({ score: 0, value: room })),
        ),
      );
      await guarded(() => redis.del(keys.legacyRooms));
    },
  };
}
