/**
 * The socket.io wire protocol (docs/protocol.md), shared by the server and the browser client.
 * Type-only imports, so the browser bundle takes nothing from the server.
 */
import type { Message } from "../domain/messages.js";
import type { Conversation } from "../domain/names.js";
import type { ErrorBody } from "../lib/error-codes.js";

export type { Message } from "../domain/messages.js";
export type { Conversation } from "../domain/names.js";

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };
export type AckFn<T> = (reply: Ack<T>) => void;

export interface RoomSummary {
  room: `#${string}`;
  members: number;
}

/** A member of a room, and whether they are online anywhere. */
export interface RoomMember {
  user: string;
  online: boolean;
}

export interface RoomMembersPage {
  room: `#${string}`;
  /** Absent for rooms created before owners were recorded. */
  owner?: string;
  private: boolean;
  members: RoomMember[];
  /** Present when more members follow: send it back as `cursor`. */
  next?: string;
}

/** How a room's membership changed: told live to the sockets that watch its member list (`room:member`). */
export type MemberChange = "joined" | "left" | "invited" | "removed" | "owner";

export interface MemberUpdate {
  room: `#${string}`;
  user: string;
  change: MemberChange;
  /** The owner after the change; absent for `joined` (it does not move the owner) and for rooms without one. */
  owner?: string;
}

export interface HandshakeAuth {
  /** The newest message id the client holds per conversation: the server replays what is newer. */
  lastIds?: Record<string, string>;
}

export interface ClientToServerEvents {
  "room:join": (payload: { room: string }, ack: AckFn<{ room: `#${string}`; history: Message[]; private: boolean }>) => void;
  /** Creates a room the sender owns; `private: true` makes it joinable by invitation only. */
  "room:create": (
    payload: { room: string; private?: boolean },
    ack: AckFn<{ room: `#${string}`; history: Message[]; private: boolean }>,
  ) => void;
  /** Owner only: makes `user` a member (their sockets join at once, and are told `room:invited`). */
  "room:invite": (payload: { room: string; user: string }, ack: AckFn<{ room: `#${string}`; user: string }>) => void;
  /** Owner only: ends `user`'s membership; their sockets on every worker leave before the ack. */
  "room:remove": (payload: { room: string; user: string }, ack: AckFn<{ room: `#${string}`; user: string }>) => void;
  /** Owner only: hands ownership to another member. */
  "room:transfer": (payload: { room: string; user: string }, ack: AckFn<{ room: `#${string}`; owner: string }>) => void;
  /**
   * Members only: a page of the room's members with who is online. `watch: true` makes this socket
   * get `room:member` for this room (and for no other room it watched before).
   */
  "room:members": (payload: { room: string; cursor?: string; limit?: number; watch?: boolean }, ack: AckFn<RoomMembersPage>) => void;
  "room:leave": (payload: { room: string }, ack: AckFn<Record<string, never>>) => void;
  "message:send": (payload: { to: string; text: string; clientId: string }, ack: AckFn<{ id: string; ts: number }>) => void;
  "history:fetch": (
    payload: { conversation: string; before?: string; after?: string; limit?: number },
    ack: AckFn<{ messages: Message[] }>,
  ) => void;
  /** A page of the rooms; `next` (absent on the last page) is the `cursor` of the next one. */
  "rooms:list": (payload: { cursor?: string; limit?: number }, ack: AckFn<{ rooms: RoomSummary[]; next?: string }>) => void;
  "presence:list": (payload: Record<string, never>, ack: AckFn<{ users: string[] }>) => void;
  typing: (payload: { to: string }) => void;
  /** Words in the user's conversations, newest first; `before` is the `next` of the previous page. */
  search: (payload: { query: string; before?: string; limit?: number }, ack: AckFn<SearchResult>) => void;
  /** The user has seen the conversation up to `lastId`: stored, and told to their other sockets. */
  "conversation:read": (payload: { conversation: string; lastId: string }, ack: AckFn<ReadUpdate & { lastId: string }>) => void;
  /** Read markers and mention counts of every conversation, as stored. */
  "read:fetch": (payload: Record<string, never>, ack: AckFn<ReadState>) => void;
}

export interface ReadUpdate {
  conversation: Conversation;
  /** The read marker, when it moved (absent when only the mention count changed). */
  lastId?: string;
  /** Messages that mention the user in this conversation and are not read yet. */
  mentions: number;
}

/** Keyed by conversation in lower case (`#room`, `@peer`). */
export interface ReadState {
  markers: Record<string, string>;
  mentions: Record<string, number>;
}

export interface SearchResult {
  messages: Message[];
  /** Present when older entries remain unread: send it back as `before` for the next page. */
  next?: string;
}

export interface Welcome {
  user: string;
  /** "<host>/<worker pid>": the host and worker serving this socket. */
  instance: string;
  rooms: `#${string}`[];
  /** Which of `rooms` are private. */
  private: `#${string}`[];
  /** Peers the user has direct conversations with, as `@name`. */
  directs: `@${string}`[];
}

export interface ServerToClientEvents {
  welcome: (welcome: Welcome) => void;
  "message:new": (message: Message) => void;
  /** Catch-up could not replay every missed message: here is the latest page instead. */
  "history:truncated": (payload: { conversation: Conversation; messages: Message[] }) => void;
  /** Another socket of the same user joined or left a room. */
  "room:joined": (payload: { room: `#${string}`; private?: boolean }) => void;
  /** The owner made this user a member: every socket of the user has joined the room already. */
  "room:invited": (payload: { room: `#${string}`; by: string; private: boolean }) => void;
  /** The owner removed this user: every socket of the user has left the room already. */
  "room:removed": (payload: { room: `#${string}`; by: string }) => void;
  /** A member joined, left, was invited or removed, or the room changed owner. */
  "room:member": (payload: MemberUpdate) => void;
  "room:left": (payload: { room: `#${string}` }) => void;
  "presence:update": (payload: { user: string; online: boolean }) => void;
  /** Several users came online or went offline at about the same time (one broadcast for all). */
  "presence:changes": (payload: { online: string[]; offline: string[] }) => void;
  typing: (payload: { conversation: Conversation; user: string }) => void;
  "session:ended": () => void;
  /** Another socket of the user read a conversation, or a new message mentions the user. */
  "read:update": (payload: ReadUpdate) => void;
}
