/**
 * The message list of the open conversation: ordered insertion, pending and failed sends at the
 * bottom, consecutive messages of one author grouped under one header, day separators,
 * auto-scroll that leaves a reader who scrolled up where they are, and the "load older" trigger at
 * the top.
 */
import { mentions } from "../domain/mentions.js";
import type { Message } from "../domain/messages.js";
import { compareIds } from "../domain/stream-ids.js";
import { h } from "./dom.js";
import { openDeleteConfirmation, openInlineEditor } from "./edits.js";
import { linkify } from "./linkify.js";
import { type GroupedItem, placement } from "./message-groups.js";
import type { OutboxEntry } from "./outbox.js";
import { fullTime, shortTime } from "./time.js";

export type HistoryState = "more" | "loading" | "start" | "error";

export interface MessageListElements {
  scroller: HTMLElement;
  list: HTMLOListElement;
  loadOlder: HTMLButtonElement;
  historyNote: HTMLElement;
  jump: HTMLButtonElement;
}

export interface MessageListHandlers {
  loadOlder(): void;
  /** A refused message goes back into the composer to be changed. */
  edit(clientId: string): void;
  /** The inline editor closed: the composer takes the focus back. */
  editClosed(): void;
  discard(clientId: string): void;
  /** Edits one of the user's messages; rejects with the reason to show in the editor. */
  editMessage(id: string, text: string): Promise<void>;
  deleteMessage(id: string): Promise<void>;
}

/** Within this many pixels of the bottom the reader is "at the bottom" and new messages scroll in. */
const STICK_PX = 80;
/** Start fetching older messages this close to the top, before the reader actually hits it. */
const PREFETCH_PX = 240;

export class MessageList {
  private readonly confirmed = new Map<string, HTMLLIElement>();
  /** The confirmed messages shown, by id: the inline editor starts from their text. */
  private readonly shown = new Map<string, Message>();
  private readonly pending = new Map<string, HTMLLIElement>();
  private historyState: HistoryState = "more";
  private unseen = 0;
  private scrollQueued = false;

  constructor(
    private readonly els: MessageListElements,
    private readonly me: string,
    private readonly handlers: MessageListHandlers,
  ) {
    els.scroller.addEventListener("scroll", () => this.onScroll(), { passive: true });
    els.loadOlder.addEventListener("click", () => handlers.loadOlder());
    els.jump.addEventListener("click", () => this.scrollToBottom());
    els.list.addEventListener("click", (event) => this.onListClick(event));
  }

  /** Renders a conversation from scratch, scrolled to its newest message. */
  show(messages: readonly Message[], pending: readonly OutboxEntry[], historyState: HistoryState): void {
    this.confirmed.clear();
    this.shown.clear();
    this.pending.clear();
    const fragment = document.createDocumentFragment();
    for (const message of messages) fragment.append(this.confirmedItem(message));
    for (const entry of pending) fragment.append(this.pendingItem(entry));
    // The list is a live region (role=log): a whole conversation swapped in is not news to read out.
    this.els.list.setAttribute("aria-busy", "true");
    this.els.list.replaceChildren(fragment);
    this.regroup();
    requestAnimationFrame(() => this.els.list.removeAttribute("aria-busy"));
    this.setHistoryState(historyState);
    this.unseen = 0;
    this.scrollToBottom();
  }

  /** New messages of this conversation (already de-duplicated by the store). */
  add(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const stick = this.atBottom();
    let fromOthers = 0;
    let mine = false;
    for (const message of messages) {
      if (this.confirmed.has(message.id)) continue;
      const pendingItem = this.pending.get(message.clientId);
      if (pendingItem) this.removeItem(pendingItem);
      this.pending.delete(message.clientId);
      this.insert(this.confirmedItem(message));
      if (this.isMine(message.from)) mine = true;
      else fromOthers++;
    }
    if (stick || mine) this.scrollToBottom();
    else if (fromOthers > 0) {
      this.unseen += fromOthers;
      this.updateJump();
    }
  }

  /** An older page: inserted above without moving what the reader is looking at. */
  prepend(messages: readonly Message[]): void {
    const { scroller } = this.els;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const fresh = messages.filter((message) => !this.confirmed.has(message.id));
    const first = this.els.list.querySelector<HTMLElement>("li[data-state=sent]")?.dataset.id;
    const last = fresh.at(-1);
    if (last && (!first || compareIds(last.id, first) < 0)) {
      // The usual case: a whole page older than everything shown goes on top in one insert.
      const fragment = document.createDocumentFragment();
      for (const message of fresh) {
        const item = this.confirmedItem(message);
        this.confirmed.set(message.id, item);
        this.shown.set(message.id, message);
        fragment.append(item);
      }
      this.els.list.prepend(fragment);
      this.regroup();
    } else {
      for (const message of fresh) this.insert(this.confirmedItem(message));
    }
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
  }

  /** A shown message was edited or deleted: its item is drawn again in place (an open editor closes). */
  update(message: Message): void {
    const existing = this.confirmed.get(message.id);
    if (!existing) return;
    const item = this.confirmedItem(message);
    existing.replaceWith(item);
    this.confirmed.set(message.id, item);
    this.regroupAround(item);
  }

  /** Up-arrow in an empty composer: edits the user's newest message still shown; false if none. */
  editLast(): boolean {
    const own = [...this.shown.values()].filter((message) => this.isMine(message.from) && !message.deleted);
    const last = own.reduce<Message | undefined>(
      (newest, message) => (!newest || compareIds(message.id, newest.id) > 0 ? message : newest),
      undefined,
    );
    if (!last) return false;
    this.startEdit(last.id);
    return true;
  }

  private startEdit(id: string): void {
    const item = this.confirmed.get(id);
    const message = this.shown.get(id);
    if (!item || !message || message.deleted || item.querySelector(".edit-form")) return;
    const close = () => {
      this.update(this.shown.get(id) ?? message);
      this.handlers.editClosed();
    };
    const input = openInlineEditor(item, message.text, {
      save: (text) => {
        if (text.trim() === message.text.trim()) {
          close();
          return;
        }
        input.disabled = true;
        this.handlers.editMessage(id, text).then(close, (reason: unknown) => {
          input.disabled = false;
          input.focus();
          this.showItemError(item, String(reason));
        });
      },
      cancel: close,
    });
    item.scrollIntoView({ block: "nearest" });
  }

  private startDelete(id: string): void {
    const item = this.confirmed.get(id);
    if (!item || item.querySelector(".delete-confirmation")) return;
    openDeleteConfirmation(item, {
      confirm: () => {
        this.handlers.deleteMessage(id).then(
          () => undefined,
          (reason: unknown) => this.showItemError(item, String(reason)),
        );
      },
      cancel: () => {
        const message = this.shown.get(id);
        if (message) this.update(message);
      },
    });
  }

  private showItemError(item: HTMLElement, reason: string): void {
    item.querySelector(".item-error")?.remove();
    item.querySelector(".message-body")?.append(h("p", { class: "message-error item-error", attrs: { role: "alert" } }, reason));
  }

  upsertPending(entry: OutboxEntry): void {
    const item = this.pendingItem(entry);
    const existing = this.pending.get(entry.clientId);
    if (existing) existing.replaceWith(item);
    else this.els.list.append(item);
    this.pending.set(entry.clientId, item);
    this.regroupAround(item);
    this.scrollToBottom();
  }

  removePending(clientId: string): void {
    const item = this.pending.get(clientId);
    if (item) this.removeItem(item);
    this.pending.delete(clientId);
  }

  setHistoryState(state: HistoryState): void {
    this.historyState = state;
    const { loadOlder, historyNote } = this.els;
    loadOlder.hidden = state === "start";
    loadOlder.disabled = state === "loading";
    loadOlder.textContent = state === "loading" ? "Loading…" : state === "error" ? "Retry loading older messages" : "Load older messages";
    historyNote.hidden = state !== "start";
  }

  /** Called after a page loaded: a short conversation may still not fill the screen. */
  checkPrefetch(): void {
    if (this.historyState === "more" && this.els.scroller.scrollTop < PREFETCH_PX) this.handlers.loadOlder();
  }

  atBottom(): boolean {
    const { scroller } = this.els;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < STICK_PX;
  }

  scrollToBottom(): void {
    const { scroller } = this.els;
    scroller.scrollTop = scroller.scrollHeight;
    this.unseen = 0;
    this.updateJump();
  }

  private onScroll(): void {
    // Scroll events come in bursts: handle at most one per frame.
    if (this.scrollQueued) return;
    this.scrollQueued = true;
    requestAnimationFrame(() => {
      this.scrollQueued = false;
      if (this.atBottom() && this.unseen > 0) {
        this.unseen = 0;
        this.updateJump();
      }
      this.checkPrefetch();
    });
  }

  private updateJump(): void {
    const { jump } = this.els;
    jump.hidden = this.unseen === 0;
    jump.textContent = this.unseen === 1 ? "1 new message ↓" : `${this.unseen} new messages ↓`;
  }

  /** Confirmed messages in id order, above every pending one. */
  private insert(item: HTMLLIElement): void {
    const id = item.dataset.id ?? "";
    this.confirmed.set(id, item);
    const { list } = this.els;
    // Walk up from the bottom to the newest confirmed message older than this one: live messages
    // stop at the first step, and prepend() handles whole older pages without walking.
    let anchor = list.lastElementChild as HTMLElement | null;
    while (anchor && (anchor.dataset.state !== "sent" || (anchor.dataset.id !== undefined && compareIds(anchor.dataset.id, id) > 0))) {
      anchor = anchor.previousElementSibling as HTMLElement | null;
    }
    list.insertBefore(item, anchor ? anchor.nextElementSibling : list.firstElementChild);
    this.regroupAround(item);
  }

  private removeItem(item: HTMLLIElement): void {
    const next = item.nextElementSibling;
    item.remove();
    if (next instanceof HTMLLIElement) this.place(next);
  }

  /** Groups and day separators of the whole list (after a conversation or a page came in). */
  private regroup(): void {
    let previous: GroupedItem | undefined;
    for (const child of Array.from(this.els.list.children)) {
      if (!(child instanceof HTMLLIElement)) continue;
      previous = this.apply(child, previous);
    }
  }

  /** One item came or changed: only it and the one after it can change their placement. */
  private regroupAround(item: HTMLLIElement): void {
    this.place(item);
    const next = item.nextElementSibling;
    if (next instanceof HTMLLIElement) this.place(next);
  }

  private place(item: HTMLLIElement): void {
    const previous = item.previousElementSibling;
    this.apply(item, previous instanceof HTMLLIElement ? groupedItem(previous) : undefined);
  }

  private apply(item: HTMLLIElement, previous: GroupedItem | undefined): GroupedItem {
    const current = groupedItem(item);
    const { grouped, day } = placement(previous, current);
    item.classList.toggle("grouped", grouped);
    if (day === undefined) delete item.dataset.day;
    else item.dataset.day = day;
    return current;
  }

  private confirmedItem(message: Message): HTMLLIElement {
    this.shown.set(message.id, message);
    const item = this.item(message.from, message.text, "sent", {
      id: message.id,
      clientId: message.clientId,
      ts: message.ts,
    });
    const text = item.querySelector(".message-text");
    if (message.deleted) {
      item.classList.add("deleted");
      item.classList.remove("mention");
      text?.replaceChildren("message deleted");
    } else {
      if (message.edited) {
        text?.after(h("span", { class: "message-edited", dataset: { testid: "message-edited" } }, "(edited)"));
      }
      if (this.isMine(message.from)) {
        item
          .querySelector(".message-body")
          ?.append(
            h(
              "div",
              { class: "message-tools" },
              h(
                "button",
                { class: "link-button", attrs: { type: "button" }, dataset: { action: "edit-message", testid: "edit-message" } },
                "Edit",
              ),
              h(
                "button",
                { class: "link-button", attrs: { type: "button" }, dataset: { action: "delete-message", testid: "delete-message" } },
                "Delete",
              ),
            ),
          );
      }
    }
    return item;
  }

  private pendingItem(entry: OutboxEntry): HTMLLIElement {
    const item = this.item(this.me, entry.text, entry.state, { clientId: entry.clientId, ts: entry.createdAt });
    if (entry.state === "failed") {
      // Refused for good (too long, not allowed): sending it again would be refused again.
      item
        .querySelector(".message-body")
        ?.append(
          h(
            "div",
            { class: "message-actions" },
            h("span", { class: "message-error", attrs: { role: "alert" } }, `Not sent: ${entry.error ?? "error"}`),
            h("button", { attrs: { type: "button" }, dataset: { action: "edit", testid: "edit-refused" } }, "Edit"),
            h("button", { attrs: { type: "button" }, dataset: { action: "discard", testid: "discard" } }, "Discard"),
          ),
        );
    }
    return item;
  }

  private item(
    from: string,
    text: string,
    state: "sent" | "pending" | "failed",
    ids: { id?: string; clientId: string; ts: number },
  ): HTMLLIElement {
    const own = this.isMine(from);
    const mentioned = !own && mentions(text, this.me);
    const status = state === "pending" ? "Sending…" : state === "failed" ? "Not sent" : null;
    const date = new Date(ids.ts);
    const item = h(
      "li",
      {
        class: `message${own ? " own" : ""}${mentioned ? " mention" : ""}${state === "sent" ? "" : ` ${state}`}`,
        dataset: { testid: "message", state, from, clientId: ids.clientId, own: String(own), ts: String(ids.ts) },
      },
      h(
        "div",
        { class: "message-body", attrs: { title: fullTime(ids.ts) } },
        h(
          "div",
          { class: "message-meta", dataset: { testid: "message-meta" } },
          h("span", { class: "message-from" }, own ? `${from} (you)` : from),
          " ",
          h("time", { class: "message-time", attrs: { datetime: date.toISOString(), title: fullTime(ids.ts) } }, shortTime(ids.ts)),
          status && h("span", { class: "message-status", dataset: { testid: "message-status" } }, status),
        ),
        h("p", { class: "message-text", dataset: { testid: "message-text" } }, linkify(text)),
      ),
    );
    if (ids.id) item.dataset.id = ids.id;
    if (state === "pending") item.setAttribute("aria-busy", "true");
    return item;
  }

  private onListClick(event: MouseEvent): void {
    const button = (event.target as Element | null)?.closest("button[data-action]");
    const id = button?.closest<HTMLElement>("li[data-id]")?.dataset.id;
    if (button instanceof HTMLButtonElement && id && button.dataset.action === "edit-message") this.startEdit(id);
    if (button instanceof HTMLButtonElement && id && button.dataset.action === "delete-message") this.startDelete(id);
    const clientId = button?.closest<HTMLElement>("li[data-client-id]")?.dataset.clientId;
    if (!(button instanceof HTMLButtonElement) || !clientId) return;
    if (button.dataset.action === "edit") {
      this.removePending(clientId);
      this.handlers.edit(clientId);
    }
    if (button.dataset.action === "discard") {
      this.removePending(clientId);
      this.handlers.discard(clientId);
    }
  }

  private isMine(from: string): boolean {
    return from.toLowerCase() === this.me.toLowerCase();
  }
}

function groupedItem(item: HTMLElement): GroupedItem {
  return { from: item.dataset.from ?? "", ts: Number(item.dataset.ts), failed: item.dataset.state === "failed" };
}
