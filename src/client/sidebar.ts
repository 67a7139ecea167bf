/**
 * The conversation lists (rooms, direct messages) and the online users, with unread badges and
 * presence dots. Lists are reconciled by key so a re-render keeps keyboard focus. While the socket
 * is down, presence is marked stale (grey, "last known") rather than shown as live.
 */
import type { Conversation } from "../domain/names.js";
import { h, reconcile } from "./dom.js";

export interface ConversationItem {
  name: Conversation;
  label: string;
  unread: number;
  /** Unread messages that mention the user (kept by the server, the same on every device). */
  mentions?: number;
  active: boolean;
  /** Rooms only: joinable by invitation only (shown with a lock). */
  locked?: boolean;
  /** DMs only: whether the peer is online. */
  online?: boolean;
  /** The × button: leave a room (server side), or close a DM (hidden until it gets a new message). */
  removal?: "leave" | "close";
}

export interface SidebarElements {
  rooms: HTMLUListElement;
  directs: HTMLUListElement;
  online: HTMLUListElement;
  onlineCount: HTMLElement;
}

export interface SidebarHandlers {
  open(conversation: Conversation): void;
  leave(room: Conversation): void;
  close(direct: Conversation): void;
  message(user: string): void;
}

export class Sidebar {
  private onlineUsers = 0;
  private presenceLive = false;

  constructor(
    private readonly els: SidebarElements,
    handlers: SidebarHandlers,
  ) {
    for (const list of [els.rooms, els.directs, els.online]) {
      list.addEventListener("click", (event) => {
        const button = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-action]");
        const value = button?.dataset.value;
        if (!button || !value) return;
        if (button.dataset.action === "open") handlers.open(value as Conversation);
        if (button.dataset.action === "leave") handlers.leave(value as Conversation);
        if (button.dataset.action === "close") handlers.close(value as Conversation);
        if (button.dataset.action === "message") handlers.message(value);
      });
    }
  }

  renderConversations(rooms: readonly ConversationItem[], directs: readonly ConversationItem[]): void {
    this.renderList(this.els.rooms, rooms);
    this.renderList(this.els.directs, directs);
  }

  renderOnline(users: readonly string[], me: string): void {
    const sorted = [...users].sort((a, b) => {
      const self = Number(b.toLowerCase() === me.toLowerCase()) - Number(a.toLowerCase() === me.toLowerCase());
      return self || a.localeCompare(b);
    });
    this.onlineUsers = sorted.length;
    this.renderOnlineCount();
    reconcile(
      this.els.online,
      sorted,
      (user) => user.toLowerCase(),
      (user) => {
        const isMe = user.toLowerCase() === me.toLowerCase();
        const dot = h("span", { class: "presence-dot online", attrs: { "aria-hidden": "true" } });
        const content = isMe
          ? h("span", { class: "online-user self" }, dot, user, h("span", { class: "muted" }, " (you)"))
          : h(
              "button",
              {
                class: "online-user",
                attrs: { type: "button", title: `Message ${user}` },
                dataset: { action: "message", value: user, testid: "online-user" },
              },
              dot,
              user,
            );
        return h("li", { dataset: { user } }, content);
      },
      () => {},
    );
  }

  /** Live only between a presence list fetched on this connection and the next disconnect. */
  setPresenceLive(live: boolean): void {
    this.presenceLive = live;
    for (const list of [this.els.online, this.els.directs]) {
      if (live) delete list.dataset.stale;
      else list.dataset.stale = "true";
    }
    this.renderOnlineCount();
  }

  private renderOnlineCount(): void {
    const { onlineCount } = this.els;
    if (this.presenceLive) onlineCount.textContent = `(${this.onlineUsers})`;
    else onlineCount.textContent = this.onlineUsers === 0 ? "(…)" : `(${this.onlineUsers}, last known)`;
    onlineCount.title = this.presenceLive ? "" : "Disconnected: who was online when the connection was lost";
  }

  private renderList(list: HTMLUListElement, items: readonly ConversationItem[]): void {
    reconcile(
      list,
      items,
      (item) => item.name,
      (item) => {
        const badge = h("span", { class: "badge", dataset: { testid: "unread" } });
        const mentionBadge = h("span", { class: "badge mention-badge", dataset: { testid: "mentions" } });
        const dot = h("span", { class: "presence-dot", attrs: { "aria-hidden": "true" } });
        const open = h(
          "button",
          {
            class: "conv-open",
            attrs: { type: "button" },
            dataset: { action: "open", value: item.name, testid: "conversation", conversation: item.name },
          },
          item.online === undefined ? null : dot,
          item.online === undefined
            ? h("span", { class: "lock-icon conv-lock", attrs: { role: "img", "aria-label": "private" }, dataset: { testid: "lock" } })
            : null,
          h("span", { class: "conv-name" }, item.label),
          mentionBadge,
          badge,
        );
        const verb = item.removal === "close" ? "Close" : "Leave";
        const remove = item.removal
          ? h(
              "button",
              {
                class: "conv-leave icon-button",
                attrs: { type: "button", "aria-label": `${verb} ${item.label}`, title: `${verb} ${item.label}` },
                dataset: { action: item.removal, value: item.name, testid: `${item.removal}-conversation` },
              },
              "×",
            )
          : null;
        return h("li", { class: "conv" }, open, remove);
      },
      (element, item) => {
        element.classList.toggle("active", item.active);
        element.classList.toggle("has-unread", item.unread > 0);
        const open = element.querySelector<HTMLButtonElement>(".conv-open");
        if (!open) return;
        if (item.active) open.setAttribute("aria-current", "page");
        else open.removeAttribute("aria-current");
        const name = open.querySelector(".conv-name");
        if (name && name.textContent !== item.label) name.textContent = item.label;
        const badge = open.querySelector<HTMLElement>(".badge:not(.mention-badge)");
        if (badge) {
          badge.hidden = item.unread === 0;
          badge.textContent = item.unread > 99 ? "99+" : String(item.unread);
          badge.setAttribute("aria-label", `${item.unread} unread`);
        }
        const mentionBadge = open.querySelector<HTMLElement>(".mention-badge");
        if (mentionBadge) {
          const count = item.mentions ?? 0;
          mentionBadge.hidden = count === 0;
          mentionBadge.textContent = `@${count > 99 ? "99+" : count}`;
          mentionBadge.setAttribute("aria-label", `${count} mention${count === 1 ? "" : "s"}`);
        }
        const lock = open.querySelector<HTMLElement>(".conv-lock");
        if (lock) lock.hidden = item.locked !== true;
        const dot = open.querySelector(".presence-dot");
        dot?.classList.toggle("online", item.online === true);
        open.title =
          item.online !== undefined
            ? `${item.label} (${item.online ? "online" : "offline"})`
            : item.locked
              ? `${item.label} (private)`
              : item.label;
      },
    );
  }
}
