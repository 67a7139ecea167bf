/**
 * The search box of the sidebar: asks the server (`search`), lists the matches newest first, and
 * "More" follows the server's cursor, since one request reads a bounded part of the history.
 */
import type { Conversation, Message, SearchResult } from "../realtime/events.js";
import { h } from "./dom.js";
import { shortTime } from "./time.js";

export interface SearchElements {
  form: HTMLFormElement;
  input: HTMLInputElement;
  results: HTMLOListElement;
  more: HTMLButtonElement;
  status: HTMLElement;
}

export interface SearchActions {
  search(query: string, before: string | undefined): Promise<SearchResult>;
  /** Opens the conversation a clicked result belongs to. */
  open(conversation: Conversation, message: Message): void;
  label(conversation: Conversation): string;
  describe(error: unknown): string;
}

export class SearchPanel {
  private query = "";
  private next: string | undefined;
  private found = 0;
  /** Counts searches, so an answer to a query the user already replaced is dropped. */
  private generation = 0;

  constructor(
    private readonly els: SearchElements,
    private readonly actions: SearchActions,
  ) {
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.start(els.input.value);
    });
    els.input.addEventListener("input", () => {
      if (els.input.value.trim() === "") this.clear();
    });
    els.more.addEventListener("click", () => void this.load());
  }

  private start(raw: string): void {
    this.query = raw.trim();
    this.next = undefined;
    this.found = 0;
    this.els.results.replaceChildren();
    if (this.query === "") {
      this.clear();
      return;
    }
    void this.load();
  }

  private clear(): void {
    this.generation++;
    this.query = "";
    this.els.results.replaceChildren();
    this.els.more.hidden = true;
    this.els.status.textContent = "";
  }

  private async load(): Promise<void> {
    const generation = ++this.generation;
    this.els.more.hidden = true;
    this.els.status.textContent = "Searching…";
    try {
      const { messages, next } = await this.actions.search(this.query, this.next);
      if (generation !== this.generation) return;
      this.next = next;
      this.found += messages.length;
      for (const message of messages) this.els.results.append(this.item(message));
      this.els.more.hidden = next === undefined;
      if (next !== undefined) this.els.status.textContent = `${this.found} found so far; older messages not searched yet.`;
      else this.els.status.textContent = this.found === 0 ? "No messages found." : `${this.found} found.`;
    } catch (error) {
      if (generation !== this.generation) return;
      this.els.status.textContent = this.actions.describe(error);
      this.els.more.hidden = this.next === undefined;
    }
  }

  private item(message: Message): HTMLLIElement {
    const button = h(
      "button",
      { class: "search-hit", attrs: { type: "button" }, dataset: { testid: "search-hit", id: message.id } },
      h(
        "span",
        { class: "search-hit-meta" },
        h("b", {}, this.actions.label(message.conversation)),
        ` · ${message.from} · `,
        h("time", { attrs: { datetime: new Date(message.ts).toISOString() } }, shortTime(message.ts)),
      ),
      h("span", { class: "search-hit-text" }, message.text),
    );
    button.addEventListener("click", () => this.actions.open(message.conversation, message));
    return h("li", {}, button);
  }
}
