/**
 * The schedule, as pure functions of the client's model and the time: when
 * to warn, when to ping, what a server's answer means, how long to wait
 * after a failure. Times are epoch milliseconds, durations milliseconds.
 * `rules` is `{ warnMs, expireMs }` from the configuration.
 */

// The phases of the session as a tab sees it; the first three are "live".
/** Alive, no warning. */
export const ACTIVE = 0;
/** The server confirmed an idle time past warnAfter: the warning is up. */
export const WARNED = 1;
/** The latest exchange failed (a 503, no answer): the page stays, retries. */
export const UNAVAILABLE = 2;
/** The server ended the session: the page is locked behind the relogin dialog. */
export const EXPIRED = 3;
/** Left, or stopped by the page: nothing runs any more. */
export const STOPPED = 4;

/** An answer this recent does for "ask at once". */
export const RECENT = 2000;
/** The server counts whole seconds. */
export const TOLERANCE = 1500;
/** Per request, its body included. */
export const TIMEOUT = 10000;
/** A submission this close to the expiry waits for the server's word. */
export const HOLD = 2000;
/** The backoff while the server is unavailable. */
export const BACKOFF = [2000, 5000, 10000, 30000];

/** Whether the session may still be alive: timers, pings and dialogs run. */
export const isLive = (model) => model.phase < EXPIRED;

/**
 * When the next ping is due. Activity the server has not heard of must
 * reach it by its warning point; once warned, the ping goes just after (not
 * before) the server's expiry. Never before a retry delay ends.
 */
export function pingDue(model, rules) {
  const base = model.last > model.stamp + TOLERANCE ? model.stamp : model.last;
  const due = model.phase == WARNED ? model.last + rules.expireMs + 500 : base + rules.warnMs;
  return Math.max(due, model.retryAt);
}

/**
 * What the warning shows at `now`: null when it is down, else the seconds
 * left and whether the server is unavailable. An unavailable server does
 * not delay the warning: it comes on time, with a "connection lost" line.
 */
export function warningView(model, rules, now) {
  const idle = now - model.last;
  const unavailable = model.phase == UNAVAILABLE;
  if (model.phase != WARNED && !(unavailable && idle >= rules.warnMs)) return null;
  return { secondsLeft: Math.max(0, Math.ceil((rules.expireMs - idle) / 1000)), unavailable };
}

/**
 * Whether an answer already heard (by any tab) does for a ping due at
 * `due`: asked late enough, and aware of the activity up to `last`.
 */
export const isFresh = (answer, due, last) => !!answer && answer.started >= due && answer.stamp >= last - TOLERANCE;

/**
 * What an answer of the ping or the keepalive means: `"logout"` (the
 * session is over: a 401, or the server says so), the seconds the session
 * has been idle, or undefined for "unavailable" (a 503, any other answer).
 * `body` is the parsed JSON of a 2xx answer, else null.
 */
export function answerMeaning(status, body) {
  if (status == 401 || body == "logout") return "logout";
  const idle = typeof body == "number" ? body : body && body.idle;
  return typeof idle == "number" && idle >= 0 ? idle : undefined;
}

/**
 * The server's Retry-After (a header value, seconds) as a delay within the
 * backoff's range: patience if asked, but neither hammering nor hours of
 * waiting. 0 without one.
 */
export function retryDelay(header) {
  const asked = header * 1000;
  return asked > 0 ? Math.min(Math.max(asked, BACKOFF[0]), BACKOFF[BACKOFF.length - 1]) : 0;
}

/** The wait after the `fails`-th failure in a row (1 for the first). */
export const backoff = (fails) => BACKOFF[Math.min(fails, BACKOFF.length) - 1];

/** Whether a form submitted at `now` may go at once, not held for the server's word. */
export const maySubmit = (model, rules, now) => now - model.last < rules.expireMs - HOLD;

/**
 * Whether an input event counts as activity while the warning is up: a
 * deliberate click or tap (not on the dialogs' buttons, which do their own
 * work) or a typed character, not moving the pointer towards "Log out".
 * `onOwnButton()`: whether a pointer event is on one of those buttons.
 */
export function isDeliberate(type, key, onOwnButton) {
  if (type == "pointerdown" || type == "touchstart") return !onOwnButton();
  return type == "keydown" && !!key && key.length == 1 && key != " ";
}

/**
 * What the screen reader hears with `left` seconds to go, the way the
 * GOV.UK / HMRC timeout dialog says it: whole minutes, then every 20
 * seconds. `step` changes when there is something new to say; `minutes` is
 * 0 in the last 40 seconds (41-60 s is still "1 minute").
 */
export function announcement(left) {
  const minutes = left > 40 ? Math.ceil(left / 60) : 0;
  return { step: minutes ? -minutes : Math.ceil(left / 20), minutes };
}
