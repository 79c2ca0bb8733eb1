/**
 * While the session is expired, the page's own content is out of the
 * document, held here: nobody at an unattended machine can read it or its
 * unsaved input, developer tools included (the browser's memory still
 * holds it). The same nodes go back after a same-user relogin, so inputs,
 * listeners, focus and scroll positions are as they were. The crate's own
 * elements (class session_security) stay.
 */

import { NAME } from "./page.js";

let held = null; // [node, the crate element it preceded]
let scrolls;
let focused;
let title;

/** Takes the page's content out, and shows `lockedTitle` meanwhile. */
export function lockPage(lockedTitle) {
  if (held) return;
  const body = document.body;
  held = [];
  let mark = null;
  for (let node = body.lastChild; node; node = node.previousSibling) {
    if (node.classList && node.classList.contains(NAME)) mark = node;
    else held.unshift([node, mark]);
  }
  scrolls = [document.scrollingElement, ...body.querySelectorAll("*")]
    .filter((el) => el && (el.scrollTop || el.scrollLeft))
    .map((el) => [el, el.scrollLeft, el.scrollTop]);
  focused = document.activeElement;
  title = document.title;
  const box = new DocumentFragment();
  for (const [node] of held) box.append(node);
  document.title = lockedTitle;
}

/** Puts the content back where it was, scrolled and focused as it was. */
export function unlockPage() {
  if (!held) return;
  for (const [node, mark] of held) document.body.insertBefore(node, mark);
  for (const [el, x, y] of scrolls) el.scrollTo(x, y);
  if (focused && focused.focus) focused.focus({ preventScroll: true });
  document.title = title;
  forgetPage();
}

/** Forgets the page: nothing of it can come back. */
export function forgetPage() {
  held = scrolls = focused = null;
}
