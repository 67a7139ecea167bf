/**
 * The message box: Enter sends, Shift+Enter (or Enter while an IME is composing) adds a line,
 * and the box grows with its text up to a limit. Near the server's size limit a counter appears;
 * a text over it (a long paste included) is kept whole and refused with the reason, never cut.
 */
import { format, lengthState, readLimit, tooLongReason } from "./message-limit.js";

export interface ComposerHandlers {
  send(text: string): void;
  typing(): void;
  /** Up-arrow in an empty box: edit the user's last message; false when there is none. */
  editLast(): boolean;
}

export interface ComposerElements {
  form: HTMLFormElement;
  input: HTMLTextAreaElement;
  counter: HTMLElement;
  /** Why the text in the box was not sent. */
  error: HTMLElement;
}

const MAX_HEIGHT_PX = 200;

export class Composer {
  private readonly input: HTMLTextAreaElement;
  private readonly maxChars: number;

  constructor(
    private readonly els: ComposerElements,
    handlers: ComposerHandlers,
  ) {
    const { form, input } = els;
    this.input = input;
    this.maxChars = readLimit(input);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      if (text.trim() === "") return;
      if (lengthState(text, this.maxChars).over) {
        this.showError(tooLongReason(this.maxChars), "too-long");
        return;
      }
      handlers.send(text);
      input.value = "";
      this.clearError();
      this.update();
      input.focus();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      form.requestSubmit();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowUp" || !this.empty || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
      if (handlers.editLast()) event.preventDefault();
    });
    input.addEventListener("input", () => {
      this.update();
      if (input.value.trim() !== "") handlers.typing();
    });
    this.update();
  }

  setTarget(label: string): void {
    this.input.placeholder = `Message ${label}`;
  }

  focus(): void {
    // On phones focusing opens the keyboard over the list: only do it with a real keyboard around.
    if (window.matchMedia("(pointer: fine)").matches) this.input.focus();
  }

  get empty(): boolean {
    return this.input.value.trim() === "";
  }

  /**
   * A message the server refused for good comes back to be changed, with the reason. Text typed
   * since stays, below it.
   */
  restore(text: string, reason: string): void {
    this.input.value = this.empty ? text : `${text}\n${this.input.value}`;
    this.update();
    this.showError(reason, "refused");
    this.input.focus();
  }

  private update(): void {
    this.resize();
    const length = lengthState(this.input.value, this.maxChars);
    const { counter, error } = this.els;
    counter.hidden = !length.near;
    counter.textContent = `${format(length.chars)} / ${format(length.max)}`;
    counter.classList.toggle("over", length.over);
    counter.title = length.over ? `${format(length.chars - length.max)} over the limit` : `${format(length.max - length.chars)} left`;
    this.input.setAttribute("aria-invalid", String(length.over));
    // Said as soon as a text (a paste) is over the limit, and only while it is.
    if (length.over) this.showError(tooLongReason(length.max), "too-long");
    else if (error.dataset.reason === "too-long" || this.empty) this.clearError();
  }

  private showError(reason: string, kind: "too-long" | "refused"): void {
    const { error } = this.els;
    if (error.textContent !== reason) error.textContent = reason;
    error.dataset.reason = kind;
    error.hidden = false;
  }

  private clearError(): void {
    const { error } = this.els;
    error.hidden = true;
    error.textContent = "";
    delete error.dataset.reason;
  }

  private resize(): void {
    // Inline styles set from script are allowed by the CSP (style-src governs markup, not CSSOM).
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_HEIGHT_PX)}px`;
  }
}
