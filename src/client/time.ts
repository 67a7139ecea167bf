const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayAndTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

/** "14:05" today, "Mar 3, 14:05" on other days. */
export function shortTime(ts: number, now = Date.now()): string {
  const date = new Date(ts);
  return new Date(now).toDateString() === date.toDateString() ? timeOfDay.format(date) : dayAndTime.format(date);
}

export function fullTime(ts: number): string {
  return full.format(new Date(ts));
}
