/**
 * Desktop notifications for mentions while the tab is hidden. Browsers only grant the permission
 * from a user gesture, so a visible button asks for it; nothing is shown until it is granted.
 */
export class MentionNotifier {
  constructor(private readonly button: HTMLButtonElement) {
    button.addEventListener("click", () => void this.ask());
    this.render();
  }

  private get supported(): boolean {
    return typeof Notification !== "undefined";
  }

  private async ask(): Promise<void> {
    if (!this.supported) return;
    await Notification.requestPermission();
    this.render();
  }

  /** The button is offered while the user has not decided yet. */
  private render(): void {
    this.button.hidden = !this.supported || Notification.permission !== "default";
  }

  /** Shows a notification when the page is hidden and the user allowed them; a click brings the tab back. */
  notify(title: string, body: string, tag: string, onClick: () => void): void {
    if (!this.supported || Notification.permission !== "granted" || document.visibilityState !== "hidden") return;
    const notification = new Notification(title, { body: body.slice(0, 200), tag });
    notification.addEventListener("click", () => {
      window.focus();
      onClick();
      notification.close();
    });
  }
}
