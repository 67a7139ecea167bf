/**
 * The chat page: wires the socket, the store, the outbox and the views together. Everything the
 * server says arrives here first and is routed to the store (what we know) and then to the views
 * (what is shown); nothing else talks to the socket.
 */
import { mentions } from "../domain/mentions.js";
import type { Message } from "../domain/messages.js";
import { type Conversation, type DirectName, GENERAL_ROOM, isDirect, isRoomName, isUsername, type RoomName } from "../domain/names.js";
import type { Welcome } from "../realtime/events.js";
import { renderBanner } from "./banner.js";
import type { Change } from "./changes.js";
import { ClosedDirects } from "./closed-directs.js";
import { Composer } from "./composer.js";
import { Connection, RequestError } from "./connection.js";
import { byId, h } from "./dom.js";
import { sendChange } from "./edits.js";
import { MembersPanel } from "./members.js";
import { type HistoryState, MessageList } from "./message-list.js";
import { MentionNotifier } from "./notifications.js";
import { Outbox, type OutboxEntry } from "./outbox.js";
import { SearchPanel } from "./search-panel.js";
import { type ConversationItem, Sidebar } from "./sidebar.js";
import { safeStorage } from "./storage.js";
import { Store } from "./store.js";
import { describeTypists, TypingAnnouncer, TypingTracker } from "./typing.js";

const PAGE_SIZE = 50;

/** Room and user names are case-insensitive on the server; one spelling here keeps maps consistent. */
function normalize(conversation: string): Conversation {
  return conversation.toLowerCase() as Conversation;
}

function isRoom(conversation: Conversation): conversation is RoomName {
  return !isDirect(conversation);
}

function describe(error: unknown): string {
  if (error instanceof RequestError) {
    if (error.code === "E_OFFLINE") return "You are offline; try again once reconnected.";
    if (error.code === "E_TIMEOUT") return "The server did not answer in time; try again.";
    return error.message;
  }
  return "Something went wrong.";
}

const app = byId("app", HTMLDivElement);
const me = app.dataset.user ?? "";
const local = safeStorage("localStorage");
const session = safeStorage("sessionStorage");
const activeKey = `chat:v1:active:${me.toLowerCase()}`;

const store = new Store(me, local);
const closedDirects = new ClosedDirects(local, `chat:v1:closed-directs:${me.toLowerCase()}`, () => refreshLists());
const rooms = new Set<RoomName>([GENERAL_ROOM]);
const directs = new Set<DirectName>();
/** Rooms joinable by invitation only, as the server told (welcome, joins, invitations). */
const privateRooms = new Set<RoomName>();
/** Lower-case name → spelling, of everyone online. */
const online = new Map<string, string>();
const historyStates = new Map<Conversation, HistoryState>();
/** Unread mentions per conversation, as the server counts them for every device. */
const mentionCounts = new Map<Conversation, number>();
let active: Conversation = GENERAL_ROOM;
{
  const saved = session?.getItem(activeKey);
  if (saved && (isRoomName(saved) || saved.startsWith("@"))) active = normalize(saved);
}

const els = {
  banner: byId("connection", HTMLElement),
  retryNow: byId("retry-now", HTMLButtonElement),
  socketInstance: byId("socket-instance", HTMLElement),
  title: byId("conversation-title", HTMLElement),
  typing: byId("typing", HTMLElement),
  notice: byId("notice", HTMLElement),
  sidebarToggle: byId("sidebar-toggle", HTMLButtonElement),
  scrim: byId("scrim", HTMLDivElement),
  joinForm: byId("join-room-form", HTMLFormElement),
  joinInput: byId("join-room-input", HTMLInputElement),
  joinPrivate: byId("join-room-private", HTMLInputElement),
  suggestions: byId("room-suggestions", HTMLDataListElement),
  dmForm: byId("start-dm-form", HTMLFormElement),
  dmInput: byId("start-dm-input", HTMLInputElement),
  logoutForm: byId("logout-form", HTMLFormElement),
  notifyToggle: byId("notify-toggle", HTMLButtonElement),
};

const connection = new Connection({
  handshake: () => ({ lastIds: store.lastIdsForHandshake() }),
  onState: (state) => {
    renderBanner(els.banner, els.retryNow, state);
    // Who is online is only known while connected; a fresh presence:list makes it live again.
    if (state !== "connected") sidebar.setPresenceLive(false);
    // The worker named there no longer serves us; the next welcome names the new one.
    if (state !== "connected") els.socketInstance.dataset.stale = "true";
  },
  onSignedOut: () => {
    store.flush();
    window.location.assign("/login");
  },
});
const { socket } = connection;

const list = new MessageList(
  {
    scroller: byId("message-scroller", HTMLDivElement),
    list: byId("messages", HTMLOListElement),
    loadOlder: byId("load-older", HTMLButtonElement),
    historyNote: byId("history-start", HTMLElement),
    jump: byId("jump-latest", HTMLButtonElement),
  },
  me,
  {
    loadOlder: () => void loadOlder(),
    edit: (clientId) => {
      const entry = outbox.get(clientId);
      if (!entry) return;
      outbox.discard(clientId);
      composer.restore(entry.text, `Not sent: ${entry.error ?? "refused"}`);
    },
    discard: (clientId) => outbox.discard(clientId),
    editMessage: (id, text) => changeMessage(active, id, text),
    deleteMessage: (id) => changeMessage(active, id),
    editClosed: () => composer.focus(),
  },
);

const outbox = new Outbox(connection, session, `chat:v1:outbox:${me.toLowerCase()}`, {
  changed: (entry) => {
    if (normalize(entry.to) === active) list.upsertPending(entry);
  },
  confirmed: (entry, id, ts) => {
    // The ack can beat our own message:new: show it as sent now; the later copy is a duplicate.
    const message: Message = { id, ts, conversation: normalize(entry.to), from: me, text: entry.text, clientId: entry.clientId };
    receive(message.conversation, [message], "ack");
    list.removePending(entry.clientId);
  },
  refused: (entry) => {
    // Usually the box is still empty and shows this conversation: the text goes straight back.
    // Otherwise it stays in the list, failed, with "Edit" to bring it back later.
    if (normalize(entry.to) === active && composer.empty) {
      outbox.discard(entry.clientId);
      list.removePending(entry.clientId);
      composer.restore(entry.text, `Not sent: ${entry.error ?? "refused"}`);
    } else if (normalize(entry.to) === active) list.upsertPending(entry);
  },
});

const sidebar = new Sidebar(
  {
    rooms: byId("room-list", HTMLUListElement),
    directs: byId("direct-list", HTMLUListElement),
    online: byId("online-list", HTMLUListElement),
    onlineCount: byId("online-count", HTMLElement),
  },
  {
    open: (conversation) => open(conversation),
    leave: (room) => void leaveRoom(room),
    close: (direct) => closeDirect(direct),
    message: (user) => startDirect(user),
  },
);

const notifier = new MentionNotifier(els.notifyToggle);

const typing = new TypingTracker((conversation) => {
  if (conversation === active) renderTyping();
});

const textarea = byId("text", HTMLTextAreaElement);
const announcer = new TypingAnnouncer(
  (conversation) => connection.typing(conversation),
  () => (textarea.value.trim() === "" ? undefined : active),
);
const composer = new Composer(
  {
    form: byId("composer", HTMLFormElement),
    input: textarea,
    counter: byId("char-count", HTMLElement),
    error: byId("composer-error", HTMLElement),
  },
  {
    send: (text) => outbox.add(active, text),
    typing: () => announcer.keystroke(active),
    editLast: () => list.editLast(),
  },
);

new SearchPanel(
  {
    form: byId("search-form", HTMLFormElement),
    input: byId("search-input", HTMLInputElement),
    results: byId("search-results", HTMLOListElement),
    more: byId("search-more", HTMLButtonElement),
    status: byId("search-status", HTMLElement),
  },
  {
    search: (query, before) => connection.request("search", before === undefined ? { query } : { query, before }),
    open: (conversation) => {
      const name = normalize(conversation);
      if (!isRoom(name)) {
        store.rememberName(conversation.slice(1));
        closedDirects.reopen(name);
      }
      open(name);
    },
    label: (conversation) => label(normalize(conversation)),
    describe,
  },
);

const members = new MembersPanel(
  {
    toggle: byId("members-toggle", HTMLButtonElement),
    panel: byId("members-panel", HTMLElement),
    host: byId("members-panel", HTMLElement).closest("main") ?? app,
    title: byId("members-title", HTMLElement),
    lock: byId("members-lock", HTMLElement),
    owner: byId("members-owner", HTMLElement),
    list: byId("member-list", HTMLUListElement),
    more: byId("members-more", HTMLButtonElement),
    inviteForm: byId("invite-form", HTMLFormElement),
    inviteInput: byId("invite-input", HTMLInputElement),
    status: byId("members-status", HTMLElement),
  },
  me,
  {
    fetch: (room, cursor) => connection.request("room:members", cursor === undefined ? { room, watch: true } : { room, cursor }),
    invite: (room, user) => connection.request("room:invite", { room, user }),
    remove: (room, user) => connection.request("room:remove", { room, user }),
    transfer: (room, user) => connection.request("room:transfer", { room, user }),
    describe,
  },
);

// ---- incoming -------------------------------------------------------------------------------

socket.on("welcome", (welcome) => onWelcome(welcome));
socket.on("message:new", (message) => {
  // A DM is named `@Peer` as the peer registered: keep that spelling for the label.
  if (message.conversation.startsWith("@")) store.rememberName(message.conversation.slice(1));
  const name = normalize(message.conversation);
  const added = receive(name, [message], "live");
  if (added && message.from.toLowerCase() !== me.toLowerCase() && mentions(message.text, me)) {
    notifier.notify(`${message.from} mentioned you in ${label(name)}`, message.text, name, () => open(name));
  }
});
socket.on("message:edited", (edit) => changed(edit.conversation, { kind: "edit", edit }, "live"));
socket.on("message:deleted", (deletion) => changed(deletion.conversation, { kind: "delete", deletion }, "live"));
socket.on("read:update", ({ conversation, lastId, mentions: count }) => {
  const name = normalize(conversation);
  if (lastId !== undefined) store.readElsewhere(name, lastId);
  // The open conversation is read here as messages arrive; that read clears the count anyway.
  setMentions(name, name === active && document.visibilityState === "visible" ? 0 : count);
  refreshLists();
});
socket.on("history:truncated", ({ conversation, messages }) => {
  const name = normalize(conversation);
  track(name);
  store.replace(name, messages);
  historyStates.set(name, "more");
  if (name === active) showActive();
  refreshLists();
});
socket.on("room:joined", ({ room, private: locked }) => {
  const name = normalize(room) as RoomName;
  if (locked) privateRooms.add(name);
  track(name);
  refreshLists();
  void loadLatest(name);
});
socket.on("room:left", ({ room }) => forgetRoom(normalize(room) as RoomName));
socket.on("room:invited", ({ room, by, private: locked }) => {
  const name = normalize(room) as RoomName;
  if (locked) privateRooms.add(name);
  track(name);
  refreshLists();
  void loadLatest(name);
  notice(`${by} added you to ${name}.`);
});
socket.on("room:removed", ({ room, by }) => {
  const name = normalize(room) as RoomName;
  forgetRoom(name);
  notice(`${by} removed you from ${name}.`);
});
socket.on("room:member", ({ room }) => members.changed(normalize(room) as RoomName));
function setPresence(user: string, isOnline: boolean): void {
  if (isOnline) online.set(user.toLowerCase(), user);
  else online.delete(user.toLowerCase());
  members.presence(user, isOnline);
  store.rememberName(user);
}
socket.on("presence:update", ({ user, online: isOnline }) => {
  setPresence(user, isOnline);
  renderOnline();
  refreshLists();
});
socket.on("presence:changes", (changes) => {
  for (const user of changes.online) setPresence(user, true);
  for (const user of changes.offline) setPresence(user, false);
  renderOnline();
  refreshLists();
});
socket.on("typing", ({ conversation, user }) => {
  if (user.toLowerCase() !== me.toLowerCase()) typing.seen(normalize(conversation), user);
});

function onWelcome(welcome: Welcome): void {
  els.socketInstance.textContent = welcome.instance;
  delete els.socketInstance.dataset.stale;
  els.socketInstance.title = `This socket is served by ${welcome.instance}`;
  // Memberships are the server's: a room left in another tab while we were away is gone here too.
  for (const room of [...rooms]) if (!welcome.rooms.some((r) => normalize(r) === room) && room !== GENERAL_ROOM) forgetRoom(room);
  for (const room of welcome.rooms) rooms.add(normalize(room) as RoomName);
  privateRooms.clear();
  for (const room of welcome.private ?? []) privateRooms.add(normalize(room) as RoomName);
  for (const peer of welcome.directs ?? []) {
    store.rememberName(peer.slice(1));
    directs.add(normalize(peer) as DirectName);
  }
  // Re-rendering the open conversation would throw away the reader's scroll position: only switch
  // when the room it shows was left meanwhile.
  if (isRoom(active) && !rooms.has(active)) open(GENERAL_ROOM, { keepFocus: true });
  else refreshLists();
  void refreshPresence();
  void fetchReadState();
  // A new socket watches no member list yet: an open panel asks (and watches) again.
  if (isRoom(active)) members.changed(active);
  // The catch-up replay only covers conversations with a cursor, and only what is newer than it.
  // After a reload the store is empty, and a conversation may have no cursor yet: fetch the
  // latest page of those (ids de-duplicate the overlap with the replay).
  for (const name of new Set<Conversation>([active, ...rooms, ...directs])) {
    if (!store.get(name)?.historyLoaded || !store.hasCursor(name)) void loadLatest(name);
  }
  outbox.resume();
}

/** Adds messages to a conversation and shows what is new; true when something was new. */
function receive(name: Conversation, messages: readonly Message[], source: "live" | "page" | "ack"): boolean {
  const added = store.add(name, messages, source);
  track(name);
  for (const message of added) {
    typing.stopped(name, message.from);
    if (outbox.has(message.clientId)) outbox.confirm(message.clientId, message.id, message.ts);
  }
  if (added.length === 0) return false;
  if (name === active) {
    list.add(added);
    if (document.visibilityState === "visible") markRead(name);
  }
  refreshLists();
  return true;
}

/** An edit or a deletion, received or acknowledged: the message is shown as it now reads. */
function changed(conversation: Conversation, change: Change, source: "live" | "ack"): void {
  if (conversation.startsWith("@")) store.rememberName(conversation.slice(1));
  const name = normalize(conversation);
  const message = store.change(name, change, source);
  if (message && name === active) list.update(message);
}

/** Edits (with `text`) or deletes one of the user's messages; rejects with the reason in words. */
async function changeMessage(name: Conversation, messageId: string, text?: string): Promise<void> {
  try {
    const change = await sendChange(connection, { conversation: name, messageId, from: me, text });
    changed(name, change, "ack");
  } catch (error) {
    throw new Error(`Not saved: ${describe(error)}`);
  }
}

// ---- read state -----------------------------------------------------------------------------

/** Read cursors waiting to be told to the server: a burst of messages makes one request each. */
const unreported = new Map<Conversation, string>();
let reportTimer: ReturnType<typeof setTimeout> | undefined;

/** Marks what this tab shows as read, here and, a moment later, on the user's other tabs and devices. */
function markRead(name: Conversation): void {
  mentionCounts.delete(name);
  const id = store.markRead(name);
  if (id === undefined) return;
  unreported.set(name, id);
  if (reportTimer === undefined) reportTimer = setTimeout(reportReads, 300);
}

function reportReads(): void {
  reportTimer = undefined;
  if (!connection.connected) return; // the next welcome reports them
  for (const [name, lastId] of unreported) {
    unreported.delete(name);
    connection.request("conversation:read", { conversation: name, lastId }).then(
      (marker) => {
        setMentions(name, marker.mentions);
        refreshLists();
      },
      () => {
        // Lost with the connection: the next welcome reports the cursor again.
        if (!unreported.has(name)) unreported.set(name, lastId);
      },
    );
  }
}

function setMentions(name: Conversation, count: number): void {
  if (count > 0) mentionCounts.set(name, count);
  else mentionCounts.delete(name);
}

/** After every (re)connection: what was read and who mentioned us meanwhile, on any device. */
async function fetchReadState(): Promise<void> {
  try {
    const state = await connection.request("read:fetch", {});
    for (const [name, id] of Object.entries(state.markers)) store.readElsewhere(normalize(name), id);
    mentionCounts.clear();
    for (const [name, count] of Object.entries(state.mentions)) setMentions(normalize(name), count);
    if (document.visibilityState === "visible") markRead(active);
    reportReads();
    refreshLists();
  } catch {
    // Counts stay as they were; the next welcome asks again.
  }
}

/** A conversation we get messages for is listed, even when the server has not said so yet. */
function track(name: Conversation): void {
  const known = isRoom(name) ? rooms.has(name) : directs.has(name as DirectName);
  if (isRoom(name)) rooms.add(name);
  else directs.add(name as DirectName);
  if (!known) presenceCircleChanged();
}

let presenceRefresh: ReturnType<typeof setTimeout> | undefined;
/**
 * The server tells this tab of the people it shares a conversation with: one more, or one fewer,
 * can change who that is, so the online list is read again (once for a burst of changes).
 */
function presenceCircleChanged(): void {
  if (!connection.connected) return; // the next welcome reads it anyway
  clearTimeout(presenceRefresh);
  presenceRefresh = setTimeout(() => void refreshPresence(), 500);
}

async function refreshPresence(): Promise<void> {
  try {
    const { users } = await connection.request("presence:list", {});
    online.clear();
    for (const user of users) {
      online.set(user.toLowerCase(), user);
      store.rememberName(user);
    }
    renderOnline();
    sidebar.setPresenceLive(connection.connected);
    refreshLists();
  } catch {
    // The next reconnect corrects the list; until then it stays marked as not live.
  }
}

// ---- history --------------------------------------------------------------------------------

async function loadLatest(name: Conversation): Promise<void> {
  try {
    const { messages } = await connection.request("history:fetch", { conversation: name, limit: PAGE_SIZE });
    const state = store.ensure(name);
    state.historyLoaded = true;
    if (messages.length === 0) {
      state.hasOlder = false;
      store.markEmpty(name);
    }
    receive(name, messages, "page");
    store.initRead(name);
    if (name === active) {
      list.setHistoryState(historyState(name));
      requestAnimationFrame(() => list.checkPrefetch());
    }
  } catch (error) {
    if (error instanceof RequestError && !isRoom(name) && (error.code === "E_NOT_FOUND" || error.code === "E_INVALID")) {
      // A DM opened by name with a user who does not exist.
      directs.delete(name as DirectName);
      store.remove(name);
      notice(`No user named ${name.slice(1)}.`);
      if (name === active) open(GENERAL_ROOM);
      else refreshLists();
    }
    // Anything else: the next welcome retries (historyLoaded is still false).
  }
}

async function loadOlder(): Promise<void> {
  const name = active;
  const state = store.get(name);
  if (!state || historyState(name) === "loading" || historyState(name) === "start") return;
  const oldest = state.messages[0]?.id;
  if (!oldest) {
    if (!state.historyLoaded) void loadLatest(name);
    return;
  }
  setHistoryState(name, "loading");
  try {
    const { messages } = await connection.request("history:fetch", { conversation: name, before: oldest, limit: PAGE_SIZE });
    const added = store.add(name, messages, "older");
    // Nothing new (an empty page, or a server ignoring `before`) means the start: never loop.
    if (added.length === 0) state.hasOlder = false;
    setHistoryState(name, state.hasOlder ? "more" : "start");
    if (name === active) {
      list.prepend(added);
      requestAnimationFrame(() => list.checkPrefetch());
    }
  } catch {
    setHistoryState(name, "error");
  }
}

function historyState(name: Conversation): HistoryState {
  if (store.get(name)?.hasOlder === false) return "start";
  return historyStates.get(name) ?? "more";
}

function setHistoryState(name: Conversation, state: HistoryState): void {
  historyStates.set(name, state);
  if (name === active) list.setHistoryState(historyState(name));
}

// ---- conversations --------------------------------------------------------------------------

function label(name: Conversation): string {
  return isRoom(name) ? name : `@${store.displayName(name.slice(1))}`;
}

function open(name: Conversation, options: { keepFocus?: boolean } = {}): void {
  active = name;
  session?.setItem(activeKey, name);
  track(name);
  store.ensure(name);
  showActive();
  closeSidebar();
  if (!options.keepFocus) composer.focus();
  if (!store.get(name)?.historyLoaded && connection.connected) void loadLatest(name);
}

function showActive(): void {
  const state = store.ensure(active);
  list.show(
    state.messages,
    outbox.list().filter((entry: OutboxEntry) => normalize(entry.to) === active),
    historyState(active),
  );
  els.title.textContent = label(active);
  members.show(isRoom(active) ? active : undefined);
  composer.setTarget(label(active));
  renderTyping();
  if (document.visibilityState === "visible") markRead(active);
  refreshLists();
}

async function joinRoom(raw: string): Promise<void> {
  const wanted = raw.trim().startsWith("#") ? raw.trim() : `#${raw.trim()}`;
  if (!isRoomName(wanted)) {
    notice("A room name is 1–32 letters, digits, _ or -.");
    return;
  }
  if (rooms.has(normalize(wanted) as RoomName)) {
    open(normalize(wanted));
    return;
  }
  const locked = els.joinPrivate.checked;
  try {
    const joined = locked
      ? await connection.request("room:create", { room: wanted, private: true })
      : await connection.request("room:join", { room: wanted });
    const { room, history } = joined;
    const name = normalize(room);
    if (joined.private) privateRooms.add(name as RoomName);
    els.joinPrivate.checked = false;
    byId("join-room-button", HTMLButtonElement).textContent = "Join";
    track(name);
    store.ensure(name).historyLoaded = true;
    receive(name, history, "page");
    store.initRead(name);
    open(name);
  } catch (error) {
    notice(`Could not ${locked ? "create" : "join"} ${wanted}: ${describe(error)}`);
  }
}

async function leaveRoom(room: Conversation): Promise<void> {
  if (!isRoom(room) || room === GENERAL_ROOM) return;
  try {
    await connection.request("room:leave", { room });
    forgetRoom(room);
  } catch (error) {
    notice(`Could not leave ${room}: ${describe(error)}`);
  }
}

function forgetRoom(room: RoomName): void {
  if (room === GENERAL_ROOM || !rooms.delete(room)) return;
  privateRooms.delete(room);
  store.remove(room);
  historyStates.delete(room);
  presenceCircleChanged();
  if (active === room) open(GENERAL_ROOM, { keepFocus: true });
  else refreshLists();
}

function startDirect(raw: string): void {
  const user = raw.trim().replace(/^@/, "");
  if (!isUsername(user)) {
    notice("A username is 3–32 letters, digits, _ . or -.");
    return;
  }
  if (user.toLowerCase() === me.toLowerCase()) {
    notice("That is you. Pick someone else to message.");
    return;
  }
  // The presence list or a message knows the registered spelling; the typed one is a fallback.
  if (!store.knowsName(user)) store.rememberName(user);
  const name = normalize(`@${user}`);
  closedDirects.reopen(name);
  open(name);
}

/** Hides a DM from the sidebar until a new message arrives in it (see closed-directs.ts). */
function closeDirect(name: Conversation): void {
  if (isRoom(name)) return;
  closedDirects.close(name, store.get(name)?.messages.at(-1)?.id);
  if (active === name) open(GENERAL_ROOM, { keepFocus: true });
  else refreshLists();
}

function directShown(name: DirectName): boolean {
  return name === active || closedDirects.visible(name, store.get(name)?.messages.at(-1)?.id);
}

// ---- rendering ------------------------------------------------------------------------------

function refreshLists(): void {
  const item = (name: Conversation): ConversationItem => ({
    name,
    label: label(name),
    unread: name === active && document.visibilityState === "visible" ? 0 : store.unread(name),
    mentions: name === active && document.visibilityState === "visible" ? 0 : (mentionCounts.get(name) ?? 0),
    active: name === active,
    ...(isRoom(name)
      ? name === GENERAL_ROOM
        ? {}
        : { removal: "leave" as const, locked: privateRooms.has(name) }
      : { removal: "close" as const, online: online.has(name.slice(1)) }),
  });
  const roomItems = [...rooms].sort((a, b) => (a === GENERAL_ROOM ? -1 : b === GENERAL_ROOM ? 1 : a.localeCompare(b))).map(item);
  const directItems = [...directs]
    .filter(directShown)
    .sort((a, b) => a.localeCompare(b))
    .map(item);
  sidebar.renderConversations(roomItems, directItems);
  const total = [...roomItems, ...directItems].reduce((sum, entry) => sum + entry.unread, 0);
  document.title = `${total > 0 ? `(${total}) ` : ""}${label(active)} · Chat`;
}

function renderOnline(): void {
  sidebar.renderOnline([...online.values()], me);
}

function renderTyping(): void {
  els.typing.textContent = describeTypists(typing.typists(active).map((user) => store.displayName(user)));
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function notice(text: string): void {
  els.notice.replaceChildren(h("span", {}, text));
  els.notice.hidden = false;
  if (noticeTimer !== undefined) clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    els.notice.hidden = true;
  }, 6_000);
}

// ---- page chrome ----------------------------------------------------------------------------

function closeSidebar(): void {
  app.classList.remove("sidebar-open");
  els.sidebarToggle.setAttribute("aria-expanded", "false");
  els.scrim.hidden = true;
}

els.sidebarToggle.addEventListener("click", () => {
  const open = !app.classList.contains("sidebar-open");
  app.classList.toggle("sidebar-open", open);
  els.sidebarToggle.setAttribute("aria-expanded", String(open));
  els.scrim.hidden = !open;
});
els.scrim.addEventListener("click", closeSidebar);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && app.classList.contains("sidebar-open")) {
    closeSidebar();
    els.sidebarToggle.focus();
  }
});

els.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = els.joinInput.value;
  els.joinInput.value = "";
  void joinRoom(value);
});
els.joinInput.addEventListener("focus", () => void suggestRooms());
els.joinPrivate.addEventListener("change", () => {
  byId("join-room-button", HTMLButtonElement).textContent = els.joinPrivate.checked ? "Create" : "Join";
});

async function suggestRooms(): Promise<void> {
  try {
    const { rooms: all } = await connection.request("rooms:list", {});
    els.suggestions.replaceChildren(
      ...all
        .filter(({ room }) => !rooms.has(normalize(room) as RoomName))
        .map(({ room, members }) =>
          h("option", { attrs: { value: room, label: `${room} · ${members} member${members === 1 ? "" : "s"}` } }),
        ),
    );
  } catch {
    // Suggestions are a convenience; typing a name still works.
  }
}

els.dmForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = els.dmInput.value;
  els.dmInput.value = "";
  startDirect(value);
});

els.retryNow.addEventListener("click", () => connection.retryNow());

els.logoutForm.addEventListener("submit", () => {
  // Unsent text must not outlive the session on a shared computer; the form then posts as usual.
  connection.leave();
  outbox.clear();
  store.flush();
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  markRead(active);
  refreshLists();
});
window.addEventListener("pagehide", () => store.flush());

renderBanner(els.banner, els.retryNow, connection.state);
sidebar.setPresenceLive(false);
showActive();
connection.start();
