/** The connection banner: a quiet pill when connected, a bar with "Retry now" otherwise. */
import type { ConnectionState } from "./connection.js";

const TEXT: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Connection lost, reconnecting…",
  offline: "Offline, retrying…",
};

export function renderBanner(banner: HTMLElement, retry: HTMLButtonElement, state: ConnectionState): void {
  banner.dataset.state = state;
  banner.textContent = TEXT[state];
  retry.hidden = state === "connected" || state === "connecting";
  document.body.dataset.connection = state;
}
