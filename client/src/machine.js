/**
 * The client's state and its one transition function. A tab's model is
 * plain data; `transition` is the only thing that changes it, and it does
 * nothing else: it returns the next model and the effects (requests, tab
 * messages, dialogs) for the page to carry out. Every tab computes the same
 * schedule from the same shared times, so their pings coincide and the
 * election keeps one.
 */

import { ACTIVE, WARNED, UNAVAILABLE, EXPIRED, STOPPED, isLive, pingDue, isFresh, backoff, maySubmit } from "./schedule.js";

// What this tab has sent to the server and waits for (`exchange`).
/** Nothing. */
export const QUIET = 0;
/** A ping or keepalive of this tab is on its way: no second one meanwhile. */
export const ASKING = 1;
/** "Log out" was sent: an answer "logout" meanwhile is this sign-out, not an expiry. */
export const SIGNING_OUT = 2;

/** The event stream: another tab holds it, or none can (no Web Locks). */
export const WAITING = 0;
/** This tab holds the stream (its Web Lock) while the session lives. */
export const HOLDING = 1;

/** The model of a page loaded `idleSeconds` after the session's last activity. */
export function initialModel(idleSeconds, now) {
  const last = now - (idleSeconds || 0) * 1000;
  return {
    phase: ACTIVE, // ACTIVE, WARNED, UNAVAILABLE, EXPIRED or STOPPED (schedule.js)
    exchange: QUIET, // QUIET, ASKING or SIGNING_OUT
    stream: WAITING, // WAITING or HOLDING
    last, // the last activity in any tab of this user
    stamp: last, // the server's last activity, as of its latest answer
    floor: now, // answers asked before this (the page, or its relogin) are of another session
    unconfirmed: 0, // activity past the expiry (a machine back from sleep) the server must confirm
    fails: 0, // failed exchanges in a row
    retryAt: 0, // no ping before this, after a failure
    latest: null, // the latest good answer of any tab
    pingAt: 0, // when the next ping is due
  };
}

/**
 * The next model and the effects of `event` at `now`. `rules`:
 * `{ warnMs, expireMs, relogin }` (whether a relogin dialog is there).
 *
 * Events: `start`; `activity {at}` (in this tab); `stay {at}` (a keepalive:
 * "Stay signed in", Escape, a held submission); `tabActivity {at, stamp}`
 * (another tab's); `ping {due}` (the server's word as of `due` is wanted);
 * `elected {due}` (this tab won the ping election); `answer {answer, own}`;
 * `expire` (the server ended the session and the user cookie does not say
 * where to go); `logout`; `signOutFailed`; `relogged {sameUser, token, tell}`;
 * `streamHeld`; `stop`.
 *
 * Effects: `share` (this tab's times to the others), `tell {answer}`,
 * `elect {due}`, `ask {idleFor}` (the ping), `keepalive`, `signOut`,
 * `ended` (the server says it is over: the user cookie decides, else an
 * `expire` follows), `lock`, `signedOut {reason}`, `leaveExpired` (no
 * relogin), `leaveForOtherUser` (another user logged in),
 * `restore {token, tell}`, `release` (held submissions), `listen` ((re)open
 * or close the stream), `teardown`. The page renders the warning from the
 * model after every transition (schedule.js `warningView`).
 */
export function transition(model, event, rules, now) {
  const m = { ...model };
  const effects = [];
  const does = (type, details) => effects.push({ type, ...details });
  const live = isLive(m);

  /** The phase and the next ping after a change of the shared times. */
  const settle = () => {
    if (m.phase == WARNED && now - m.last < rules.warnMs) m.phase = ACTIVE;
    m.pingAt = pingDue(m, rules);
  };

  /** Activity at `at` in this tab. */
  const act = (at) => {
    // Back from a sleep past the expiry: only the server may say it still counts.
    if (at - m.last >= rules.expireMs) m.unconfirmed = at;
    else {
      m.last = Math.max(m.last, at);
      does("share");
    }
  };

  /** An answer, this tab's or another's. */
  const take = (answer) => {
    if (answer.started < m.floor) return;
    if (answer.result == "logout") return does("ended");
    if (answer.result === undefined) {
      // Unavailable: the page stays as it is and asks again later.
      m.retryAt = answer.done + (answer.retry || backoff(++m.fails));
      m.phase = UNAVAILABLE;
    } else {
      m.latest = answer;
      m.fails = m.retryAt = 0;
      m.stamp = Math.max(m.stamp, answer.stamp);
      // Activity after the ping left is kept: the server hears of it next time.
      m.last = Math.max(m.last, answer.stamp, m.unconfirmed);
      if (m.unconfirmed) does("share");
      m.unconfirmed = 0;
      m.phase = now - m.last >= rules.warnMs ? WARNED : ACTIVE;
      if (maySubmit(m, rules, now)) does("release");
    }
    settle();
  };

  /** The server's word as of `due`: a fresh answer of any tab does, else the elected tab asks. */
  const ping = (due) => {
    if (m.exchange != QUIET) return;
    if (isFresh(m.latest, due, m.last)) return take(m.latest);
    // Another tab may be asking: its answer comes by message; else ask again later.
    m.pingAt = Math.max(now + 3000, m.retryAt);
    does("elect", { due });
  };

  switch (event.type) {
    case "start":
      // The page load was a request the server counted: other tabs adopt it.
      does("share");
      settle();
      break;
    case "activity":
      if (!live) break;
      act(event.at);
      if (m.unconfirmed && event.at >= m.retryAt) ping(event.at);
      settle();
      break;
    case "stay":
      if (!live || m.exchange != QUIET) break;
      act(event.at);
      m.exchange = ASKING;
      does("keepalive");
      settle();
      break;
    case "tabActivity":
      // Another tab's clock is ours, give or take.
      if (event.at > now + 5000) break;
      m.last = Math.max(m.last, event.at);
      m.stamp = Math.max(m.stamp, event.stamp);
      if (live) settle();
      break;
    case "ping":
      if (live) ping(event.due);
      break;
    case "elected":
      if (!live || m.exchange != QUIET) break;
      if (isFresh(m.latest, event.due, m.last)) {
        take(m.latest);
        break;
      }
      m.exchange = ASKING;
      does("ask", { idleFor: Math.floor((now - m.last) / 1000) });
      break;
    case "answer":
      if (event.own && m.exchange == ASKING) m.exchange = QUIET;
      if (!live) break;
      if (event.own) does("tell", { answer: event.answer });
      take(event.answer);
      break;
    case "expire":
      if (!live) break;
      if (m.exchange == SIGNING_OUT) does("signedOut", { reason: "logout" });
      else if (!rules.relogin) does("leaveExpired");
      else {
        m.phase = EXPIRED;
        m.unconfirmed = 0;
        does("lock");
      }
      break;
    case "logout":
      if (!live || m.exchange == SIGNING_OUT) break;
      m.exchange = SIGNING_OUT;
      does("signOut");
      break;
    case "signOutFailed":
      // Unavailable: still signed in, the page stays.
      if (m.exchange == SIGNING_OUT) m.exchange = QUIET;
      break;
    case "relogged":
      if (m.phase == STOPPED) break;
      if (!event.sameUser) {
        // Nothing of the page may be shown to another user.
        does("leaveForOtherUser");
        break;
      }
      does("restore", { token: event.token, tell: event.tell });
      m.phase = ACTIVE;
      m.floor = m.last = m.stamp = now;
      m.fails = m.retryAt = m.unconfirmed = 0;
      m.latest = null;
      if (m.exchange == SIGNING_OUT) m.exchange = QUIET;
      settle();
      does("release");
      does("listen");
      break;
    case "streamHeld":
      m.stream = HOLDING;
      does("listen");
      break;
    case "stop":
      if (m.phase == STOPPED) break;
      m.phase = STOPPED;
      does("teardown");
      break;
  }
  return { model: m, effects };
}
