/**
 * The conversation lists (rooms, direct messages) and the online users, with unread badges and
 * presence dots. Lists are reconciled by key so a re-render keeps keyboard focus.
 */
import type { Conversation } from "../domain/names.js";
import { h, reconcile } from "./dom.js";

export interface ConversationItem {
  name: Conversation;
  label: string;
  unread: number;
  active: boolean;
  /** DMs only: whether the peer is online. */
  online?: boolean;
  leavable: boolean;
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
  message(user: string): void;
}

export class Sidebar {
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
    this.els.onlineCount.textContent = `(${sorted.length})`;
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

  private renderList(list: HTMLUListElement, items: readonly ConversationItem[]): void {
    reconcile(
      list,
      items,
      (item) => item.name,
      (item) => {
        const badge = h("span", { class: "badge", dataset: { testid: "unread" } });
        const dot = h("span", { class: "presence-dot", attrs: { "aria-hidden": "true" } });
        const open = h(
          "button",
          {
            class: "conv-open",
            attrs: { type: "button" },
            dataset: { action: "open", value: item.name, testid: "conversation", conversation: item.name },
          },
          item.online === undefined ? null : dot,
          h("span", { class: "conv-name" }, item.label),
          badge,
        );
        const leave = item.leavable
          ? h(
              "button",
              {
                class: "conv-leave icon-button",
                attrs: { type: "button", "aria-label": `Leave ${item.label}`, title: `Leave ${item.label}` },
                dataset: { action: "leave", value: item.name },
              },
              "×",
            )
          : null;
        return h("li", { class: "conv" }, open, leave);
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
        const badge = open.querySelector<HTMLElement>(".badge");
        if (badge) {
          badge.hidden = item.unread === 0;
          badge.textContent = item.unread > 99 ? "99+" : String(item.unread);
          badge.setAttribute("aria-label", `${item.unread} unread`);
        }
        const dot = open.querySelector(".presence-dot");
        dot?.classList.toggle("online", item.online === true);
        open.title = item.online === undefined ? item.label : `${item.label} (${item.online ? "online" : "offline"})`;
      },
    );
  }
}
