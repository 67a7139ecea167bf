/** Small helpers for the maps and id lists the harness passes around. */

export function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** Concatenates per-room id lists (e.g. the acked ids of every agent). */
export function concatLists(lists: Iterable<Record<string, string[]>>): Record<string, string[]> {
  const out = new Map<string, string[]>();
  for (const list of lists) for (const [key, ids] of Object.entries(list)) getOrCreate(out, key, () => []).push(...ids);
  return Object.fromEntries(out);
}

/** Unions per-room id lists, dropping repeats. */
export function unionLists(lists: Iterable<Record<string, string[]>>): Record<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const list of lists) {
    for (const [key, ids] of Object.entries(list)) {
      const set = getOrCreate(out, key, () => new Set<string>());
      for (const id of ids) set.add(id);
    }
  }
  return Object.fromEntries([...out].map(([key, set]) => [key, [...set]]));
}
