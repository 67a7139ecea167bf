import type { DirectName, RoomName } from "../domain/names.js";
import type { Keys } from "./keys.js";
import { guarded, type Redis } from "./redis.js";

export interface RoomSummary {
  room: RoomName;
  members: number;
}

/** Who belongs where: kept in Redis so a reconnect to any worker on any host rejoins the same rooms. */
export interface RoomStore {
  join(user: string, room: RoomName): Promise<void>;
  leave(user: string, room: RoomName): Promise<void>;
  roomsOf(user: string): Promise<RoomName[]>;
  /** Peers the user has exchanged direct messages with, as `@Name`. */
  directsOf(user: string): Promise<DirectName[]>;
  list(max: number): Promise<RoomSummary[]>;
}

export function createRoomStore(redis: Redis, keys: Keys): RoomStore {
  return {
    async join(user, room) {
      // Sent together, not as one transaction: each add is idempotent, a failed join is retried
      // whole, and the keys need not share a hash slot (Redis Cluster).
      await guarded(() =>
        Promise.all([redis.sAdd(keys.userRooms(user), room), redis.sAdd(keys.roomMembers(room), user), redis.sAdd(keys.rooms, room)]),
      );
    },
    async leave(user, room) {
      await guarded(() => Promise.all([redis.sRem(keys.userRooms(user), room), redis.sRem(keys.roomMembers(room), user)]));
    },
    async roomsOf(user) {
      return ((await guarded(() => redis.sMembers(keys.userRooms(user)))) as RoomName[]).sort();
    },
    async directsOf(user) {
      return ((await guarded(() => redis.sMembers(keys.userDirects(user)))) as DirectName[]).sort();
    },
    async list(max) {
      const rooms = ((await guarded(() => redis.sMembers(keys.rooms))) as RoomName[]).sort().slice(0, max);
      const counts = await guarded(() => Promise.all(rooms.map((room) => redis.sCard(keys.roomMembers(room)))));
      return rooms.map((room, i) => ({ room, members: counts[i] ?? 0 }));
    },
  };
}
