/** Small helpers over the page: the crate's elements, localStorage, events for the host page. */

/** The crate's name: element ids and classes, channel and lock names. */
export const NAME = "session_security";

/** The crate's element `#session_security_<id>`. */
export const element = (id) => document.getElementById(NAME + "_" + id);

/** Sets `el`'s text, touching the DOM (and screen readers) only on a change. */
export const setText = (el, text) => {
  if (el && el.textContent != text) el.textContent = text;
};

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** `f()`, or null where it throws (storage refused, JSON broken). */
export const attempt = (f) => {
  try {
    return f();
  } catch (e) {
    return null;
  }
};
export const load = (key) => attempt(() => JSON.parse(localStorage.getItem(key)));
/** Whether `value` was stored. */
export const save = (key, value) => attempt(() => (localStorage.setItem(key, JSON.stringify(value)), true));
export const remove = (key) => attempt(() => localStorage.removeItem(key));

/**
 * Tells the host page: `session-security:<name>` on `document`, with
 * `detail` (docs/client-events.md). A listener's error stays its own.
 */
export const announce = (name, detail) => document.dispatchEvent(new CustomEvent("session-security:" + name, { detail }));
