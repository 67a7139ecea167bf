/**
 * Which messages share a header. Consecutive messages of one author within a few minutes of each
 * other, on the same day, are shown as one group: the author and time are shown once, so a screen
 * holds many more short messages. A new day starts with a separator naming the date.
 */
const GROUP_WINDOW_MS = 5 * 60_000;

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric", year: "numeric" });

/** What the list knows of a shown message (confirmed, pending or failed). */
export interface GroupedItem {
  from: string;
  ts: number;
  /** A failed send carries its own header and actions, so it never joins a group. */
  failed: boolean;
}

export interface Placement {
  /** Shown without its own header, under the previous message's. */
  grouped: boolean;
  /** The date to show above this message, when it is the first of its day in the list. */
  day: string | undefined;
}

export function placement(previous: GroupedItem | undefined, current: GroupedItem): Placement {
  const newDay = previous === undefined || new Date(previous.ts).toDateString() !== new Date(current.ts).toDateString();
  const grouped =
    previous !== undefined &&
    !newDay &&
    !previous.failed &&
    !current.failed &&
    previous.from.toLowerCase() === current.from.toLowerCase() &&
    // Absolute: a pending message carries this browser's clock, the one above it the server's.
    Math.abs(current.ts - previous.ts) <= GROUP_WINDOW_MS;
  return { grouped, day: newDay ? dayFormat.format(new Date(current.ts)) : undefined };
}
