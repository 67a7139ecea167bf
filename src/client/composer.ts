/**
 * The message box: Enter sends, Shift+Enter (or Enter while an IME is composing) adds a line,
 * and the box grows with its text up to a limit.
 */
export interface ComposerHandlers {
  send(text: string): void;
  typing(): void;
}

const MAX_HEIGHT_PX = 200;

export class Composer {
  constructor(
    form: HTMLFormElement,
    private readonly input: HTMLTextAreaElement,
    handlers: ComposerHandlers,
  ) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      if (text.trim() === "") return;
      handlers.send(text);
      input.value = "";
      this.resize();
      input.focus();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      form.requestSubmit();
    });
    input.addEventListener("input", () => {
      this.resize();
      if (input.value.trim() !== "") handlers.typing();
    });
  }

  setTarget(label: string): void {
    this.input.placeholder = `Message ${label}`;
  }

  focus(): void {
    // On phones focusing opens the keyboard over the list: only do it with a real keyboard around.
    if (window.matchMedia("(pointer: fine)").matches) this.input.focus();
  }

  private resize(): void {
    // Inline styles set from script are allowed by the CSP (style-src governs markup, not CSSOM).
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_HEIGHT_PX)}px`;
  }
}
