/**
 * The member list of the open room: who belongs, who is online, who owns it. The owner also gets
 * an invite box and, per member, "Make owner" and "Remove". The list is the server's
 * (`room:members`, paged); `room:member` events and presence changes keep it current while open.
 */
import type { RoomName } from "../domain/names.js";
import type { RoomMember, RoomMembersPage } from "../realtime/events.js";
import { h, reconcile } from "./dom.js";

export interface MembersElements {
  toggle: HTMLButtonElement;
  panel: HTMLElement;
  /** The conversation area, marked while the panel is open so messages can make room for it. */
  host: HTMLElement;
  title: HTMLElement;
  lock: HTMLElement;
  owner: HTMLElement;
  list: HTMLUListElement;
  more: HTMLButtonElement;
  inviteForm: HTMLFormElement;
  inviteInput: HTMLInputElement;
  status: HTMLElement;
}

export interface MembersActions {
  fetch(room: RoomName, cursor: string | undefined): Promise<RoomMembersPage>;
  invite(room: RoomName, user: string): Promise<unknown>;
  remove(room: RoomName, user: string): Promise<unknown>;
  transfer(room: RoomName, user: string): Promise<unknown>;
  describe(error: unknown): string;
}

export class MembersPanel {
  private room: RoomName | undefined;
  private members = new Map<string, RoomMember>();
  private owner: string | undefined;
  private next: string | undefined;
  /** Counts loads, so a page for a room the panel no longer shows is dropped. */
  private generation = 0;

  constructor(
    private readonly els: MembersElements,
    private readonly me: string,
    private readonly actions: MembersActions,
  ) {
    els.toggle.addEventListener("click", () => (els.panel.hidden ? this.open() : this.close()));
    els.more.addEventListener("click", () => void this.load(false));
    els.inviteForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const user = els.inviteInput.value.trim().replace(/^@/, "");
      if (user === "" || !this.room) return;
      void this.run(() => actions.invite(this.room as RoomName, user), `Invited ${user}.`).then((done) => {
        if (done) els.inviteInput.value = "";
      });
    });
    els.list.addEventListener("click", (event) => {
      const button = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-action]");
      const user = button?.dataset.user;
      if (!button || !user || !this.room) return;
      const room = this.room;
      if (button.dataset.action === "remove") void this.run(() => actions.remove(room, user), `Removed ${user}.`);
      if (button.dataset.action === "transfer") void this.run(() => actions.transfer(room, user), `${user} owns ${room} now.`);
    });
  }

  /** The conversation shown changed: the toggle is for rooms only; an open panel follows along. */
  show(room: RoomName | undefined): void {
    this.els.toggle.hidden = room === undefined;
    if (room === this.room) return;
    this.room = room;
    if (room === undefined) this.close();
    else if (!this.els.panel.hidden) void this.load(true);
  }

  /** A member joined, left, was invited or removed, or the owner changed. */
  changed(room: RoomName): void {
    if (room === this.room && !this.els.panel.hidden) void this.load(true);
  }

  presence(user: string, online: boolean): void {
    const member = this.members.get(user.toLowerCase());
    if (!member) return;
    member.online = online;
    this.render();
  }

  private open(): void {
    this.els.panel.hidden = false;
    this.els.host.classList.add("members-open");
    this.els.toggle.setAttribute("aria-expanded", "true");
    void this.load(true);
  }

  close(): void {
    this.els.panel.hidden = true;
    this.els.host.classList.remove("members-open");
    this.els.toggle.setAttribute("aria-expanded", "false");
  }

  private async load(fresh: boolean): Promise<void> {
    const room = this.room;
    if (!room) return;
    const generation = fresh ? ++this.generation : this.generation;
    try {
      const page = await this.actions.fetch(room, fresh ? undefined : this.next);
      if (generation !== this.generation || room !== this.room) return;
      if (fresh) this.members.clear();
      for (const member of page.members) this.members.set(member.user.toLowerCase(), { ...member });
      this.owner = page.owner;
      this.next = page.next;
      this.els.title.textContent = `Members of ${room}`;
      this.els.lock.hidden = !page.private;
      this.render();
    } catch (error) {
      if (generation === this.generation) this.say(this.actions.describe(error));
    }
  }

  /** Runs an owner action and reports it; the room:member event that follows refreshes the list. */
  private async run(action: () => Promise<unknown>, done: string): Promise<boolean> {
    try {
      await action();
      this.say(done);
      return true;
    } catch (error) {
      this.say(this.actions.describe(error));
      return false;
    }
  }

  private say(text: string): void {
    this.els.status.textContent = text;
  }

  private render(): void {
    const mine = this.owner !== undefined && this.owner.toLowerCase() === this.me.toLowerCase();
    this.els.owner.textContent = this.owner === undefined ? "" : `Owner: ${this.owner}`;
    this.els.inviteForm.hidden = !mine;
    this.els.more.hidden = this.next === undefined;
    const members = [...this.members.values()].sort((a, b) => Number(b.online) - Number(a.online) || a.user.localeCompare(b.user));
    reconcile(
      this.els.list,
      members,
      (member) => member.user.toLowerCase(),
      (member) =>
        h(
          "li",
          { class: "member", dataset: { testid: "member", user: member.user } },
          h("span", { class: "presence-dot", attrs: { "aria-hidden": "true" } }),
          h("span", { class: "member-name" }, member.user),
          h("span", { class: "member-tag muted" }),
          h("span", { class: "member-actions" }),
        ),
      (element, member) => {
        const isOwner = member.user === this.owner;
        const isMe = member.user.toLowerCase() === this.me.toLowerCase();
        element.querySelector(".presence-dot")?.classList.toggle("online", member.online);
        element.title = `${member.user} (${member.online ? "online" : "offline"})`;
        const tag = element.querySelector(".member-tag");
        if (tag) tag.textContent = isOwner ? "owner" : isMe ? "you" : "";
        const actions = element.querySelector(".member-actions");
        if (!actions) return;
        const wanted = mine && !isMe ? "owner-actions" : "";
        if (actions.getAttribute("data-kind") === wanted) return;
        actions.setAttribute("data-kind", wanted);
        actions.replaceChildren(
          ...(wanted === ""
            ? []
            : [
                this.button("transfer", member.user, "Make owner", `Hand ${this.room} over to ${member.user}`),
                this.button("remove", member.user, "Remove", `Remove ${member.user} from ${this.room}`),
              ]),
        );
      },
    );
  }

  private button(action: string, user: string, text: string, label: string): HTMLButtonElement {
    return h(
      "button",
      {
        class: "link-button",
        attrs: { type: "button", "aria-label": label, title: label },
        dataset: { action, user, testid: `member-${action}` },
      },
      text,
    );
  }
}
