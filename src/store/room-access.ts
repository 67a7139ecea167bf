import { type RoomName, usernameKey } from "../domain/names.js";
import { AppError } from "../lib/errors.js";
import type { Keys } from "./keys.js";
import type { RateLimiter } from "./rate-limits.js";
import type { Redis } from "./redis.js";
import { createMemberships } from "./rooms.js";
import { luaScript } from "./scripts.js";

/** Who is in charge of a room and who may join it. */
export interface RoomAccess {
  /** Absent for rooms created before owners were recorded. */
  owner?: string;
  /** Joinable by invitation only, and not listed in `rooms:list`. */
  private: boolean;
}

export interface MemberPage {
  members: string[];
  /** Where the next page starts; absent on the last page. */
  next?: string;
}

export interface RoomAccessLimits {
  /** Rooms a user may belong to, #general included. */
  perUser: number;
  /** Rooms a user may create per hour. */
  createPerHour: number;
}

/**
 * Owners, privacy and the memberships an owner hands out. Authorisation (who may invite whom) is
 * the caller's; this store keeps the records consistent when two requests race.
 */
export interface RoomAccessStore {
  get(room: RoomName): Promise<RoomAccess>;
  /** The private rooms among `rooms`, in one round trip. */
  privateAmong(rooms: readonly RoomName[]): Promise<RoomName[]>;
  /**
   * Creates a room owned and joined by `user`.
   * @throws E_CONFLICT when the room exists, E_FORBIDDEN past the rooms a user may belong to,
   * E_RATE_LIMITED past the rooms a user may create.
   */
  create(user: string, room: RoomName, options: { private: boolean }): Promise<void>;
  /** Makes `user` a member; false when they were one already. @throws E_FORBIDDEN past their rooms limit. */
  admit(user: string, room: RoomName): Promise<boolean>;
  /** Ends a membership; false when `user` was not a member. */
  expel(user: string, room: RoomName): Promise<boolean>;
  isMember(user: string, room: RoomName): Promise<boolean>;
  /** Hands the room from `from` to `to`; false when `from` does not own it (any more). */
  transfer(room: RoomName, from: string, to: string): Promise<boolean>;
  /**
   * After `leaver` left: if they owned the room, another member (any) owns it now. Returns the new
   * owner, or undefined when ownership did not move.
   */
  handOver(room: RoomName, leaver: string): Promise<string | undefined>;
  /** Up to about `count` members (a set scan: unordered), from `cursor` ("0" or absent: the start). */
  members(room: RoomName, cursor: string | undefined, count: number): Promise<MemberPage>;
}

// Creation is decided on the room's own key, so two creators (or a creator and a joiner of a new
// room, see MAY_JOIN in rooms.ts) agree on one winner.
const CREATE = luaScript<number>(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'private', ARGV[2])
return 1`);

const TRANSFER = luaScript<number>(`
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
return 1`);

/** Registered with every Redis client (script-registry.ts). */
export const roomAccessScripts = { roomAccessCreate: CREATE, roomAccessTransfer: TRANSFER };

const exists = (room: RoomName): AppError => new AppError("E_CONFLICT", `${room} exists already: join it instead`);

export function createRoomAccessStore(redis: Redis, keys: Keys, limiter: RateLimiter, limits: RoomAccessLimits): RoomAccessStore {
  const memberships = createMemberships(redis, keys);
  const isMember = async (user: string, room: RoomName) => (await redis.sIsMember(keys.roomMembers(room), user)) === 1;

  return {
    async get(room) {
      const { owner, private: privacy } = await redis.hGetAll(keys.roomAccess(room));
      return owner === undefined ? { private: privacy === "1" } : { owner, private: privacy === "1" };
    },
    async privateAmong(rooms) {
      const flags = await Promise.all(rooms.map((room) => redis.hGet(keys.roomAccess(room), "private")));
      return rooms.filter((_, i) => flags[i] === "1");
    },
    async create(user, room, options) {
      if ((await redis.exists(keys.roomMembers(room))) === 1) throw exists(room);
      await memberships.assertRoomFor(user, limits.perUser);
      await limiter.hit("room-create", usernameKey(user), limits.createPerHour, 3600);
      const created = await redis.roomAccessCreate([keys.roomAccess(room)], [user, options.private ? "1" : "0"]);
      if (created !== 1) throw exists(room);
      await memberships.add(user, room, !options.private);
    },
    async admit(user, room) {
      if (await isMember(user, room)) return false;
      await memberships.assertRoomFor(user, limits.perUser, `${user} is`);
      const { private: isPrivate } = await this.get(room);
      await memberships.add(user, room, !isPrivate);
      return true;
    },
    async expel(user, room) {
      if (!(await isMember(user, room))) return false;
      await memberships.remove(user, room);
      return true;
    },
    isMember,
    async transfer(room, from, to) {
      return (await redis.roomAccessTransfer([keys.roomAccess(room)], [from, to])) === 1;
    },
    async handOver(room, leaver) {
      const { owner } = await this.get(room);
      if (owner !== leaver) return undefined;
      const found = await redis.sRandMember(keys.roomMembers(room));
      const heir = found === null ? undefined : String(found);
      if (heir === undefined || heir === leaver) return undefined;
      return (await this.transfer(room, leaver, heir)) ? heir : undefined;
    },
    async members(room, cursor, count) {
      const page = await redis.sScan(keys.roomMembers(room), cursor ?? "0", { COUNT: count });
      const members = [...new Set(page.members.map(String))].sort((a, b) => a.localeCompare(b));
      const next = String(page.cursor);
      return next === "0" ? { members } : { members, next };
    },
  };
}
