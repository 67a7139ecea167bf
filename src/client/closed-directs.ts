/**
 * Direct conversations the user closed from the sidebar. The server has no event for this, so the
 * choice lives in this browser's localStorage, per user, and is shared by its tabs. A closed DM
 * stays hidden until a message newer than the newest one held at closing arrives in it.
 */
import { compareIds, isStreamId } from "../domain/stream-ids.js";
import { readJson, writeJson } from "./storage.js";

export class ClosedDirects {
  /** Conversation → the newest message id it held when closed ("0-0" when it held none). */
  private marks = new Map<string, string>();

  constructor(
    private readonly storage: Storage | undefined,
    private readonly key: string,
    onChangeElsewhere: () => void,
  ) {
    this.load();
    window.addEventListener("storage", (event) => {
      if (event.key !== key) return;
      this.load();
      onChangeElsewhere();
    });
  }

  close(name: string, newestId: string | undefined): void {
    this.marks.set(name, newestId ?? "0-0");
    this.save();
  }

  /** Opened again by the user (started by name, or from the online list). */
  reopen(name: string): void {
    if (this.marks.delete(name)) this.save();
  }

  /** Whether the DM shows in the sidebar, given the newest message this tab holds of it. */
  visible(name: string, newestId: string | undefined): boolean {
    const mark = this.marks.get(name);
    return mark === undefined || (newestId !== undefined && compareIds(newestId, mark) > 0);
  }

  private load(): void {
    const saved = readJson<Record<string, unknown>>(this.storage, this.key) ?? {};
    this.marks = new Map(Object.entries(saved).filter((entry): entry is [string, string] => isStreamId(entry[1])));
  }

  private save(): void {
    writeJson(this.storage, this.key, Object.fromEntries(this.marks));
  }
}
