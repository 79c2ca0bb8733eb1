/** The two dialogs: the warning with its countdown, and the relogin. */

import { element, setText } from "./page.js";
import { announcement } from "./schedule.js";

/** dialog#session_security_warning, once set up. */
export let warning;
let strings;
let plural;
let lang;
let step = ""; // what the screen reader was last told (schedule.js `announcement`)

/**
 * The warning: a modal dialog with the live countdown (each second) and a
 * "connection lost" line while the server is unavailable. `stay` and
 * `logout`: what its buttons do; Escape means "stay signed in".
 */
export function setUpWarning(texts, language, on, stay, logout) {
  warning = element("warning");
  strings = texts;
  try {
    plural = new Intl.PluralRules(language);
  } catch (e) {
    plural = new Intl.PluralRules((language = "en"));
  }
  lang = language;
  on(element("stay"), "click", stay);
  on(element("logout"), "click", logout);
  on(warning, "cancel", (e) => {
    e.preventDefault();
    stay();
  });
}

/** `forms`: a text, or texts by plural category; {n} is the number. */
function text(forms, n) {
  const chosen = typeof forms == "string" ? forms : forms[plural.select(n)] || forms.other;
  return chosen.replaceAll("{n}", n.toLocaleString(lang));
}

/**
 * Shows `view` (schedule.js `warningView`), or hides the warning for null.
 * Screen readers hear it the way the GOV.UK / HMRC timeout dialog says it:
 * whole minutes, then every 20 seconds, each text once.
 */
export function renderWarning(view) {
  const say = element("announce");
  if (!view) {
    if (warning.open) warning.close(); // the focus goes back where it was
    setText(say, (step = ""));
    return;
  }
  const left = view.secondsLeft;
  const line = element("unavailable");
  setText(element("counter"), text(strings.counter, left));
  setText(line, view.unavailable ? strings.unavailable : "");
  if (line) line.hidden = !view.unavailable;
  if (!warning.open) return warning.showModal(); // announced from the next tick, once shown
  const next = announcement(left);
  if (next.step == step || !left) return;
  step = next.step;
  // Without a minutes text, the seconds one says whole minutes.
  const minutes = next.minutes;
  const forms = minutes && strings.announce_minutes;
  setText(say, text(forms || strings.announce, forms ? minutes : minutes * 60 || left));
}

/** dialog#session_security_relogin, once set up (and only with a relogin URL). */
export let relogin = null;
/** Its iframe, where the login page is. */
export let reloginFrame;
let reloginUrl;

/**
 * The relogin dialog: the login page in a frame, over a page with nothing
 * left in it. `isUp()`: whether it must stay (Escape or a stray close do
 * not uncover the page).
 */
export function setUpRelogin(url, on, isUp) {
  relogin = element("relogin");
  reloginFrame = element("relogin_frame");
  reloginUrl = url;
  on(relogin, "cancel", (e) => e.preventDefault());
  on(relogin, "close", () => isUp() && relogin.showModal());
}

/** The dialog's title, for the locked page's. */
export const reloginTitle = () => element("relogin_title").textContent;

export function showRelogin() {
  loadRelogin();
  relogin.showModal();
}

/** (Re)loads the login page: its first load may have failed offline. */
export function loadRelogin() {
  reloginFrame.src = reloginUrl;
}

export function hideRelogin() {
  relogin.close();
  reloginFrame.src = "about:blank";
}
