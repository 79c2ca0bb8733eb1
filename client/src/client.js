/**
 * The client of the page (one per page, main.js makes sure): it wires the
 * page (timers, listeners, requests, tab messages, dialogs) to the model,
 * which only `transition` changes (machine.js), and carries out the effects
 * the transitions ask for. Its state is this module's.
 *
 * The server is the referee: the warning opens and the page locks only on
 * the answer of GET pingUrl?idleFor=N&tag=T. A 503 or no answer is
 * "unavailable", never a logout: the page stays and the client retries with
 * backoff. One tab per user also holds the server's event stream
 * (eventsUrl), which says at once when the session ended elsewhere; the
 * pings stay the fallback.
 */

import { cookieNews, cookieValue } from "./cookie.js";
import { hideRelogin, loadRelogin, relogin, reloginFrame, reloginTitle, renderWarning, setUpRelogin, setUpWarning, showRelogin, warning } from "./dialogs.js";
import { guardForms, justSent, releaseHeld } from "./forms.js";
import { HOLDING, SIGNING_OUT, initialModel, transition } from "./machine.js";
import { NAME, announce } from "./page.js";
import { forgetPage, lockPage, unlockPage } from "./page_lock.js";
import { BACKOFF, EXPIRED, RECENT, STOPPED, TIMEOUT, answerMeaning, isDeliberate, isLive, maySubmit, retryDelay, warningView } from "./schedule.js";
import { closeTabs, openTabs, runIfElected, tellTabs } from "./tabs.js";

const ACTIVITY = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "touchmove", "scroll"];

let config; // script#session_security_config, checked
let rules; // what transition needs of it
let model;
let tag; // the user's tag
let seen; // the user cookie as last read
let abort;
let timer;
let beat; // the latest tick: a late one means the machine slept
let handled = 0; // the latest input event that counted as activity
let stream = null;
let streamRetry;
let drops = 0; // stream connections failed in a row
let releaseStream = null;

/** Adds a listener that stop() removes. */
const on = (target, type, listener, options) => target.addEventListener(type, listener, { signal: abort.signal, ...options });

/** Starts the client with `settings` (the page's checked configuration). */
export function start(settings) {
  config = settings;
  const strings = (config.strings = config.strings || {});
  tag = seen = config.userTag || "";
  rules = {
    warnMs: config.warnAfter * 1000,
    expireMs: config.expireAfter * 1000,
    relogin: !!(config.relogin && config.reloginUrl),
  };
  model = initialModel(config.idle, (beat = Date.now()));
  abort = new AbortController();

  // The dialogs must be children of <body>: the lock leaves those alone.
  for (const el of document.querySelectorAll("body * ." + NAME)) document.body.append(el);
  openTabs(tag, on, receive);
  guardForms(on, () => maySubmit(model, rules, Date.now()), stay, strings.unsaved);
  const lang = config.lang || document.documentElement.lang;
  setUpWarning(strings, lang, on, stay, () => dispatch({ type: "logout" }));
  if (rules.relogin) setUpRelogin(config.reloginUrl, on, () => model.phase == EXPIRED);

  for (const type of ACTIVITY) on(window, type, input, { capture: true, passive: true });
  const look = () => readCookie();
  on(document, "visibilitychange", () => look() || (document.visibilityState == "visible" && wake()));
  on(window, "focus", look);
  if (window.cookieStore) on(cookieStore, "change", look);
  // Back from the back/forward cache: never shown as it was once left.
  on(window, "pageshow", (e) => e.persisted && (isLive(model) ? wake() : location.reload()));
  // The relogin frame's first load may have failed offline.
  on(window, "online", () => (model.phase == EXPIRED ? loadRelogin() : wake()));
  on(window, "message", frameMessage);
  // The user cookie, the schedule and the countdown.
  timer = setInterval(tick, 300);
  // The tab holding this lock holds the event stream until its page goes,
  // then the next tab waiting for it. Without Web Locks (an insecure
  // origin) no tab does: the pings alone tell.
  const hold = (release) => {
    releaseStream = release;
    dispatch({ type: "streamHeld" });
  };
  const locks = navigator.locks;
  if (locks) locks.request(NAME + "_events" + tag, { signal: abort.signal }, () => new Promise(hold)).catch(() => 0);
  dispatch({ type: "start" });
}

/** Activity now, as a click or a key press would. */
export const activity = () => dispatch({ type: "activity", at: Date.now() });

/** The server's word as of `due` or later; resolves once it is applied (or another tab asks). */
export const ping = (due) => dispatch({ type: "ping", due });

/** Every timer, listener, tab message and stream of this page ends; the page stays as it is. */
export const stop = () => dispatch({ type: "stop" });

/** "Stay signed in", Escape, or a held submission: a keepalive. */
const stay = () => dispatch({ type: "stay", at: (handled = Date.now()) });

/** The one way the model changes; then the warning, then the effects, in order. */
function dispatch(event) {
  const next = transition(model, event, rules, Date.now());
  model = next.model;
  render();
  return Promise.all(next.effects.map(perform));
}

function perform(effect) {
  switch (effect.type) {
    case "share":
      return tellTabs({ type: "activity", at: model.last, stamp: model.stamp });
    case "tell":
      return tellTabs(effect.answer);
    case "elect":
      return runIfElected(NAME + "_ping" + tag, () => dispatch({ type: "elected", due: effect.due }));
    case "ask":
      // A wall clock that stepped back would say "active now": the server answers alone.
      return exchange(config.pingUrl, effect.idleFor >= 0 ? "idleFor=" + effect.idleFor + "&" : "");
    case "keepalive":
      return exchange(config.keepaliveUrl, "", { method: "POST" });
    case "signOut":
      return signOut();
    case "ended":
      return readCookie(true) || dispatch({ type: "expire" });
    case "lock":
      // Before the content goes: a listener may still save a draft of it.
      announce("expired", { locked: true });
      lockPage(reloginTitle());
      showRelogin();
      return listen(); // closes the stream, until a relogin
    case "signedOut":
      return signedOut(effect.reason);
    case "leaveExpired":
      return leave(config.afterLogoutUrl || config.loginUrl, "expired", { locked: false });
    case "leaveForOtherUser":
      // Nothing of the page may be shown to another user.
      return leave("/", "relogged-in", { sameUser: false });
    case "restore":
      return restore(effect.token, effect.tell);
    case "release":
      return releaseHeld();
    case "listen":
      return listen();
    case "teardown":
      abort.abort();
      clearInterval(timer);
      closeTabs();
      if (releaseStream) releaseStream();
      return listen(); // closes the stream
  }
}

/** The warning as the model has it now; the host page is told when it opens or closes. */
function render() {
  const view = warningView(model, rules, Date.now());
  const wasOpen = warning.open;
  renderWarning(view);
  if (view && !wasOpen) announce("warned", { secondsLeft: view.secondsLeft, expiresAt: model.last + rules.expireMs });
  if (!view && wasOpen && isLive(model)) announce("active", { lastActivity: model.last });
}

function tick() {
  const now = Date.now();
  const slept = now - beat > 5000 && document.visibilityState == "visible";
  beat = now;
  if (readCookie() || !isLive(model)) return;
  if (slept) {
    wake();
    listen(); // a stream across a sleep may be dead unawares
  } else if (now >= model.pingAt) ping(model.pingAt);
  render();
}

/** Back from sleep or the background: ask at once, unless a retry delay forbids it. */
function wake() {
  if (Date.now() >= model.retryAt) ping(Date.now() - RECENT);
}

/**
 * An input event, at most one a second. While warned, only a deliberate
 * one counts (schedule.js `isDeliberate`). A click beside the warning (on
 * its backdrop) then lands where it was meant: once the warning closes, the
 * field under the pointer gets the focus, so that nobody has to click twice.
 */
function input(e) {
  const now = Date.now();
  const dialog = warning;
  const onOwnButton = () => !!e.target.closest("." + NAME + " button");
  if ((dialog.open && !isDeliberate(e.type, e.key, onOwnButton)) || now - handled < 1000) return;
  handled = now;
  const beside = dialog.open && e.target == dialog && !within(dialog.getBoundingClientRect(), e.clientX, e.clientY);
  // After the event's own work: a key press that dismisses the warning
  // must not land in the field that gets the focus back.
  setTimeout(() => {
    dispatch({ type: "activity", at: now });
    if (beside && !dialog.open) focusAt(e.clientX, e.clientY);
  });
}

/** One exchange (ping or keepalive) with the user's tag; its answer goes to every tab. */
async function exchange(url, query, init) {
  const started = Date.now();
  let result;
  let retry = 0;
  try {
    const response = await request(url + "?" + query + "tag=" + encodeURIComponent(tag), init);
    retry = retryDelay(response.headers.get("Retry-After"));
    result = answerMeaning(response.status, response.ok ? await response.json() : null);
  } catch (e) {
    // No answer (network error, timeout): unavailable.
  }
  const done = Date.now();
  const answer = { type: "pong", started, done, result, retry, stamp: done - result * 1000 };
  return dispatch({ type: "answer", answer, own: true });
}

/** A request with the CSRF header (`token`, else the page's), bounded in time, its body included. */
function request(url, init, token) {
  const headers = { Accept: "application/json", [config.csrfHeader]: token || config.csrfToken };
  return fetch(url, { credentials: "same-origin", cache: "no-store", headers, signal: AbortSignal.timeout(TIMEOUT), ...init });
}

/** "Log out": ends the session on the server; every tab of this user leaves. */
async function signOut() {
  try {
    const response = await request(config.logoutUrl, { method: "POST" });
    if (response.ok || response.status == 401) {
      tellTabs({ type: "out" });
      return signedOut("logout");
    }
  } catch (e) {
    // Unavailable: still signed in, the page stays.
  }
  dispatch({ type: "signOutFailed" });
}

/** Leaves for `url` (reloads without one): the host page told first (`event`), the page discarded. */
function leave(url, event, detail) {
  if (event) announce(event, detail);
  lockPage("");
  forgetPage();
  stop();
  if (url) location.replace(url);
  else location.reload();
}

/**
 * Leaves after a sign-out: `reason` "logout" (here), "elsewhere" or
 * "other-user". One seen (cookie, stream) while this tab's own sign-out is
 * on its way is that one.
 */
function signedOut(reason, url = config.loginUrl) {
  if (reason == "elsewhere" && model.exchange == SIGNING_OUT) reason = "logout";
  leave(url, "signed-out", { reason });
}

/**
 * Follows the user cookie (cookie.js). Signed out or another user: leave
 * at once. Gone: ask the server once, its answer decides. Acts on changes
 * only, unless `force`; returns whether the page is being left.
 */
function readCookie(force) {
  if (!config.userCookie || model.phase == STOPPED) return false;
  const value = cookieValue(document.cookie, config.userCookie);
  const news = cookieNews(value, seen, tag, force);
  if (news == "unchanged") return false;
  if (news == "signed-out" || news == "other-user") {
    // A form this tab has just sent (the sign-out or sign-in itself,
    // perhaps) navigates first. Another user: a locked page goes where a
    // relogin as them would.
    const other = news == "other-user";
    if (!justSent()) signedOut(other ? news : "elsewhere", other && model.phase == EXPIRED ? "/" : config.loginUrl);
    return true;
  }
  seen = value;
  if (news == "gone" && !force) ping(Date.now() - RECENT);
  return false;
}

/**
 * (Re)opens the event stream, in the tab holding it while the session
 * lives. The browser reconnects by itself after a network error; a failed
 * connection (a 503, say) closes it for good: made again after the backoff
 * of the pings. A stream error is never a logout.
 */
function listen() {
  clearTimeout(streamRetry);
  if (stream) stream.close();
  if (model.stream != HOLDING || !isLive(model)) return;
  const source = (stream = new EventSource(config.eventsUrl + "?tag=" + encodeURIComponent(tag)));
  const later = () => {
    source.close();
    streamRetry = setTimeout(listen, BACKOFF[Math.min(drops++, BACKOFF.length - 1)]);
  };
  source.onopen = () => (drops = 0);
  source.onerror = () => source.readyState == 2 /* CLOSED */ && later();
  on(source, "ended", (e) => {
    // Closed by the server; back later if the session lives after all.
    later();
    tellTabs({ type: "ended", how: e.data });
    pushed(e.data);
  });
}

/** The stream's word, this tab's or relayed: expired (the ping decides), or signed out elsewhere. */
function pushed(how) {
  if (how == "expired") ping(Date.now());
  else if (!justSent()) signedOut("elsewhere");
}

/** Only our own relogin frame, on our origin, while locked, may say who logged in. */
function frameMessage(e) {
  const message = e.data || {};
  if (e.origin != location.origin || model.phase != EXPIRED || e.source != reloginFrame.contentWindow) return;
  if (message.type != NAME + ":relogin") return;
  // The same user if the tags match, unless the server says the backup was another's.
  const sameUser = message.sameUser !== false && !!tag && message.userTag === tag;
  dispatch({ type: "relogged", sameUser, token: message.csrfToken, tell: true });
}

/**
 * After the same user's relogin: the page as it was, with the new CSRF
 * token in every CSRF field and <meta name="csrf-token">.
 */
function restore(token, tell) {
  if (tell) tellTabs({ type: "relogin", token });
  if (relogin) hideRelogin();
  unlockPage();
  if (token) {
    config.csrfToken = token;
    const field = CSS.escape(config.csrfField);
    for (const el of document.querySelectorAll('input[name="' + field + '"],meta[name="csrf-token"]')) {
      el[el.tagName == "META" ? "content" : "value"] = token;
    }
  }
  announce("relogged-in", { sameUser: true, csrfToken: token });
}

/**
 * Another tab's relogin, with the new CSRF token. A live page takes it as
 * it comes; a locked one comes back only if the server confirms it: a
 * keepalive with that token answers the timing for a live session of this
 * user whose token it is, and nothing else. A forged message (any script of
 * the origin can post one) leaves the page locked, and there.
 */
async function confirm(token) {
  const relogged = { type: "relogged", sameUser: true, token };
  if (isLive(model)) return dispatch(relogged);
  try {
    const response = await request(config.keepaliveUrl + "?tag=" + encodeURIComponent(tag), { method: "POST" }, token);
    const body = response.ok && (await response.json());
    if (body && body.idle >= 0 && model.phase == EXPIRED) dispatch(relogged);
  } catch (e) {
    // No answer: still locked; the dialog's own login will do.
  }
}

/** A message of another tab of this user. */
function receive(message) {
  switch (message.type) {
    case "pong":
      return dispatch({ type: "answer", answer: message });
    case "relogin":
      return confirm(message.token);
    case "out":
      return signedOut("elsewhere");
    case "ended":
      return pushed(message.how);
    case "activity":
      return dispatch({ type: "tabActivity", at: message.at, stamp: message.stamp });
  }
}

const within = (rect, x, y) => x >= rect.left && x <= rect.right && y >= rect.top && y <= rect.bottom;

/** Focuses what is at (x, y), as a click there would: a label's field, else the nearest focusable element. */
function focusAt(x, y) {
  const hit = document.elementFromPoint(x, y);
  const label = hit && hit.closest("label");
  for (let el = (label && label.control) || hit; el && document.activeElement != el; el = el.parentElement) el.focus();
}
