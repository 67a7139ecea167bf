/**
 * Turns the http(s) URLs of a message into links and everything else into text nodes. Only http:
 * and https: ever become an href: `javascript:`, `data:` and friends stay plain text.
 */
import { h } from "./dom.js";

const URL_CANDIDATE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** Punctuation that usually ends the sentence rather than the URL. */
const TRAILING = /[.,;:!?)\]}'"]+$/;

export function safeHref(candidate: string): string | undefined {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export function linkify(text: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_CANDIDATE)) {
    const start = match.index ?? 0;
    let candidate = match[0];
    const trailing = TRAILING.exec(candidate);
    // Keep a closing parenthesis that belongs to the URL (Wikipedia-style links).
    if (trailing && !(trailing[0] === ")" && candidate.includes("("))) {
      candidate = candidate.slice(0, -trailing[0].length);
    }
    const href = safeHref(candidate);
    if (!href) continue;
    if (start > last) fragment.append(text.slice(last, start));
    fragment.append(h("a", { attrs: { href, rel: "noopener noreferrer nofollow", target: "_blank" } }, candidate));
    last = start + candidate.length;
  }
  if (last < text.length) fragment.append(text.slice(last));
  return fragment;
}
