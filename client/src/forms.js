/**
 * Forms: a prompt before leaving a page with a changed form (never at an
 * expiry or a sign-out: the client stops first), and submissions made when
 * the session may have expired held until it is alive again, after the
 * relogin if there has to be one.
 */

import { NAME } from "./page.js";

const dirty = new Set();
let held = new Map(); // form → its submitter
let armed = false;
let releasing = null; // the form whose held submission goes now
let sentAt = 0;

/**
 * Watches the page's forms. `on`: the client's addEventListener;
 * `maySubmit()`: whether a submission may go at once; `stay()`: a
 * keepalive, whose answer releases the held ones; `unsaved`: the prompt.
 */
export function guardForms(on, maySubmit, stay, unsaved) {
  const capture = { capture: true };
  const changed = (e) => {
    const form = e.target.form;
    if (!form) return;
    // Armed at the first change: an unload listener costs the back/forward cache.
    if (!armed) on(window, "beforeunload", (e) => unload(e, unsaved));
    armed = true;
    dirty.add(form);
  };
  on(document, "input", changed, capture);
  on(document, "change", changed, capture);
  on(document, "reset", (e) => dirty.delete(e.target), capture);
  on(window, "submit", (e) => submitted(e, maySubmit, stay), capture);
}

function submitted(e, maySubmit, stay) {
  const form = e.target;
  if (form == releasing || maySubmit()) {
    sentAt = Date.now();
    dirty.delete(form);
    return;
  }
  e.preventDefault();
  e.stopImmediatePropagation();
  held.set(form, e.submitter);
  // Submitting is activity: the keepalive's answer (alive, or expired and
  // so the relogin first) releases the form.
  stay();
}

/** Whether this page has just sent a form, which navigates first. */
export const justSent = () => Date.now() - sentAt < 3000;

/** Sends the held submissions, each once. */
export function releaseHeld() {
  const forms = held;
  held = new Map();
  for (const [form, by] of forms) {
    if (!form.isConnected) continue;
    releasing = form; // its submit event runs synchronously
    try {
      form.requestSubmit(by && by.isConnected && by.form == form ? by : null);
    } catch (e) {
      console.error(NAME, e);
    }
    releasing = null;
  }
}

function unload(e, unsaved) {
  for (const form of dirty) {
    if (form.isConnected) {
      e.preventDefault();
      return (e.returnValue = unsaved);
    }
  }
}
