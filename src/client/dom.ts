/**
 * Tiny DOM helpers. Every string goes in as a text node or textContent, never as HTML, so user
 * text cannot become markup (the CSP would block inline scripts anyway; this blocks the rest).
 */
export type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  /** Attributes set with setAttribute (values are escaped by the DOM, never parsed as HTML). */
  attrs?: Record<string, string>;
  dataset?: Record<string, string>;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  for (const [name, value] of Object.entries(props.attrs ?? {})) element.setAttribute(name, value);
  for (const [name, value] of Object.entries(props.dataset ?? {})) element.dataset[name] = value;
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** The element with this id, checked against the expected type: the template and the script must agree. */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return element;
}

/**
 * Puts `items` into `list` in order, reusing the element already there for each key, and removes
 * the rest. Elements only move when out of place, so a focused button keeps its focus.
 */
export function reconcile<T>(
  list: HTMLElement,
  items: readonly T[],
  key: (item: T) => string,
  create: (item: T) => HTMLElement,
  update: (element: HTMLElement, item: T) => void,
): void {
  const existing = new Map<string, HTMLElement>();
  for (const child of Array.from(list.children)) {
    if (child instanceof HTMLElement && child.dataset.key !== undefined) existing.set(child.dataset.key, child);
  }
  let index = 0;
  for (const item of items) {
    const k = key(item);
    let element = existing.get(k);
    if (element) existing.delete(k);
    else {
      element = create(item);
      element.dataset.key = k;
    }
    update(element, item);
    const current = list.children[index];
    if (current !== element) list.insertBefore(element, current ?? null);
    index++;
  }
  for (const stale of existing.values()) stale.remove();
}
