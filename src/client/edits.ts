/**
 * Editing and deleting one's own messages in the list: the inline editor (Enter saves, Shift+Enter
 * adds a line, Esc cancels), the inline delete confirmation, and sending an edit or a deletion.
 */
import type { Conversation } from "../domain/names.js";
import type { Change } from "./changes.js";
import { type Connection, RequestError } from "./connection.js";
import { h } from "./dom.js";

export interface InlineEditorHandlers {
  save(text: string): void;
  cancel(): void;
}

/** Replaces a message's text with a box holding it; returns the box, focused, caret at the end. */
export function openInlineEditor(item: HTMLElement, text: string, handlers: InlineEditorHandlers): HTMLTextAreaElement {
  const input = h("textarea", {
    class: "edit-input",
    attrs: { rows: "2", "aria-label": "Edit message" },
    dataset: { testid: "edit-input" },
  });
  input.value = text;
  const form = h(
    "form",
    { class: "edit-form", dataset: { testid: "edit-form" } },
    input,
    h(
      "div",
      { class: "message-actions" },
      h("span", { class: "edit-hint" }, "Enter to save · Esc to cancel"),
      h("button", { attrs: { type: "submit" }, dataset: { testid: "edit-save" } }, "Save"),
      h("button", { attrs: { type: "button" }, dataset: { action: "cancel-edit", testid: "edit-cancel" } }, "Cancel"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    handlers.save(input.value);
  });
  form.querySelector("[data-action=cancel-edit]")?.addEventListener("click", () => handlers.cancel());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      handlers.cancel();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  item.querySelector(".message-text")?.replaceWith(form);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  return input;
}

/** Asks, inside the message, whether to delete it; Esc or Cancel keeps it. */
export function openDeleteConfirmation(item: HTMLElement, handlers: { confirm(): void; cancel(): void }): void {
  const yes = h("button", { class: "danger", attrs: { type: "button" }, dataset: { testid: "delete-confirm" } }, "Delete");
  const no = h("button", { attrs: { type: "button" }, dataset: { testid: "delete-cancel" } }, "Cancel");
  const box = h(
    "div",
    { class: "message-actions delete-confirmation", attrs: { role: "alertdialog", "aria-label": "Delete this message?" } },
    h("span", { class: "message-error" }, "Delete this message for everyone?"),
    yes,
    no,
  );
  yes.addEventListener("click", () => handlers.confirm());
  no.addEventListener("click", () => handlers.cancel());
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      handlers.cancel();
    }
  });
  item.querySelector(".message-body")?.append(box);
  no.focus();
}

/** How many times a change is sent again (same clientId) after a transient failure. */
const RETRIES = 3;

/**
 * Sends an edit (with `text`) or a deletion and returns it as stored. A transient failure (Redis
 * down, rate limited, no answer) is retried with the same clientId, which the server stores once.
 */
export async function sendChange(
  connection: Connection,
  request: { conversation: Conversation; messageId: string; from: string; text?: string | undefined },
): Promise<Change> {
  const { conversation, messageId, from, text } = request;
  const clientId = crypto.randomUUID();
  for (let attempt = 0; ; attempt++) {
    try {
      const base = { conversation, messageId, from, clientId };
      if (text === undefined) {
        const { id, ts } = await connection.request("message:delete", { conversation, id: messageId, clientId });
        return { kind: "delete", deletion: { ...base, id, ts } };
      }
      const { id, ts } = await connection.request("message:edit", { conversation, id: messageId, text, clientId });
      return { kind: "edit", edit: { ...base, id, ts, text: text.trim() } };
    } catch (error) {
      const retry = error instanceof RequestError && error.transient && error.code !== "E_OFFLINE" && attempt < RETRIES;
      if (!retry) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
    }
  }
}
