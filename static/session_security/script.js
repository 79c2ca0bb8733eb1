/*!
 * rocket_session_security: the browser half.
 *
 * Warns before an idle session expires, keeps every tab of the browser in
 * agreement on when the user was last active, and offers an in-place relogin
 * once the server has ended the session. No dependencies, no build step, no
 * inline script needed: the configuration is read from
 * <script type="application/json" id="session_security_config">.
 *
 * The server is the referee: the warning only opens and the page only expires
 * on the answer of GET pingUrl?idleFor=N. A server that cannot answer (503
 * while its session store is down, or no answer at all) is unavailable, not
 * a logout: the page stays as it is and the client retries until it answers.
 */
(function () {
  "use strict";

  // One client per page, whatever number of times the script is loaded; and
  // none inside a frame of a page that already runs one (the relogin iframe).
  if (window.sessionSecurity) return;
  try {
    if (window.parent !== window && window.parent.sessionSecurity) return;
  } catch (e) {
    // A cross-origin parent: this page runs its own client.
  }

  const CHANNEL_NAME = "session_security";
  /** localStorage key of tab messages when BroadcastChannel is missing. */
  const MESSAGE_KEY = "session_security";
  /** localStorage key of the latest ping answer, shared by every tab. */
  const PONG_KEY = "session_security_pong";
  /** localStorage key of the ping lease when Web Locks are missing. */
  const LEASE_KEY = "session_security_lease";
  const LOCK_NAME = "session_security_ping";
  const RELOGIN_MESSAGE = "session_security:relogin";

  const MAX_TIMEOUT_MS = 2147483647; // setTimeout overflows past 2^31-1 ms
  const THROTTLE_MS = 1000;
  const HEARTBEAT_MS = 1000;
  const SLEEP_GAP_MS = 5000; // a heartbeat this late means the machine slept
  const RECENT_MS = 2000; // a ping this recent answers "ping at once" requests
  const STAMP_TOLERANCE_MS = 1500; // the server counts whole seconds
  const FETCH_TIMEOUT_MS = 10000;
  const LEASE_MS = FETCH_TIMEOUT_MS + 2000;
  const PEER_WAIT_MS = 3000; // then ask again, in case the pinging tab died
  const LOCK_LINGER_MS = 100; // lets the answer reach other tabs before the lock frees
  const EXPIRE_SLACK_MS = 500; // ask just after, not just before, the server's expiry
  // Unavailable (503 or no answer): retry after these delays, or after the
  // server's Retry-After kept within the same range.
  const RETRY_MS = [2000, 5000, 10000, 30000];
  const HOLD_MARGIN_MS = 2000; // submits this close to expiry wait for the server's word
  const ANNOUNCE_AT = [60, 30, 10];
  const NAVIGATION_KEYS = new Set([
    "Tab", "Shift", "Control", "Alt", "AltGraph", "Meta", "CapsLock",
    "Escape", "Enter", " ", "Unidentified",
  ]);
  const ACTIVITY_EVENTS = [
    "pointerdown", "pointermove", "keydown", "wheel", "touchstart", "touchmove", "scroll",
  ];
  const LISTEN = { passive: true, capture: true };

  const ACTIVE = "active";
  const EXPIRED = "expired";
  const STOPPED = "stopped";

  const DEFAULT_STRINGS = {
    counter: { one: "{n} second left", other: "{n} seconds left" },
    unsaved: "You have unsaved changes in a form of this page.",
    announce: "Your session will expire in {n} seconds.",
    unavailable: "The connection to the server is lost. Retrying…",
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start, { once: true });
  } else {
    start();
  }

  function start() {
    if (window.sessionSecurity) return;
    const configElement = document.getElementById("session_security_config");
    if (!configElement) return;
    let config;
    try {
      config = JSON.parse(configElement.textContent || "");
    } catch (e) {
      console.error("session_security: unreadable configuration", e);
      return;
    }
    const problem = invalidConfig(config);
    if (problem) {
      console.error("session_security: " + problem);
      return;
    }
    window.sessionSecurity = createClient(config);
  }

  function invalidConfig(config) {
    if (!config || typeof config !== "object") return "configuration is not an object";
    for (const key of ["pingUrl", "keepaliveUrl", "logoutUrl"]) {
      if (typeof config[key] !== "string" || !config[key]) return key + " must be a URL";
    }
    const positive = (value) => typeof value === "number" && isFinite(value) && value > 0;
    if (!positive(config.warnAfter)) return "warnAfter must be a positive number";
    if (!positive(config.expireAfter)) return "expireAfter must be a positive number";
    if (config.warnAfter >= config.expireAfter) return "warnAfter must be less than expireAfter";
    return null;
  }

  function createClient(config) {
    const strings = Object.assign({}, DEFAULT_STRINGS, config.strings || {});
    const warnMs = config.warnAfter * 1000;
    const expireMs = config.expireAfter * 1000;
    const relogin = config.relogin === true && typeof config.reloginUrl === "string";
    const csrfField = typeof config.csrfField === "string" ? config.csrfField : "csrf_token";
    const csrfHeader = typeof config.csrfHeader === "string" ? config.csrfHeader : "X-CSRF-Token";
    const lang = String(config.lang || document.documentElement.lang || "en").replace(/_/g, "-");
    const tabId = Date.now().toString(36) + Math.random().toString(36).slice(2);

    const ui = {
      warning: byId("session_security_warning"),
      counter: byId("session_security_counter"),
      stay: byId("session_security_stay"),
      logout: byId("session_security_logout"),
      announce: byId("session_security_announce"),
      relogin: byId("session_security_relogin"),
      frame: byId("session_security_relogin_frame"),
      other: byId("session_security_relogin_other"),
    };
    ui.unavailable = unavailableLine();
    // The dialogs must be children of <body> so that hiding the page for the
    // relogin ("body > :not(.session_security)") never hides them too.
    for (const element of [ui.warning, ui.announce, ui.relogin]) {
      if (element && document.body && element.parentElement !== document.body) {
        document.body.appendChild(element);
      }
    }

    let state = ACTIVE;
    let leaving = false; // navigation of our own: no unsaved-changes prompt
    const startedAt = Date.now();
    const renderIdle = typeof config.idle === "number" && config.idle > 0 ? config.idle : 0;
    /** Last activity in any tab (epoch ms). */
    let lastActivity = startedAt - renderIdle * 1000;
    /** The server's last activity as of its latest answer (epoch ms). */
    let serverStamp = lastActivity;
    /** The server's idle at that answer; -1 until a ping has answered. */
    let confirmedIdleMs = -1;
    let confirmedAt = 0;
    let lastHandled = 0; // throttle of activity events
    let pendingActivity = 0; // activity seen past expiry, waiting for the server's word
    let failures = 0; // unavailable answers in a row
    let lastFailureAt = 0;
    let retryAfterMs = 0; // the latest failure's Retry-After (clamped), else 0
    let pinging = false; // this tab has a ping in flight
    let staying = false; // this tab has a keepalive in flight
    let loggingOut = false;
    let latestPong = null;
    let pongFloor = startedAt; // answers older than this page (or its relogin) are stale
    let timer = 0;
    let peerTimer = 0;
    let countdownTimer = 0;
    let warningShown = false;
    let announced = new Set();
    let focusBeforeWarning = null;
    let focusBeforeRelogin = null;
    let inerted = [];
    let heldForms = [];
    const releasing = new WeakSet();
    const dirtyForms = new Set();
    let unloadGuarded = false;
    let lastBeat = Date.now();
    let wasVisible = document.visibilityState === "visible";

    let plural = null;
    let numbers = null;
    try {
      plural = new Intl.PluralRules(lang);
      numbers = new Intl.NumberFormat(lang);
    } catch (e) {
      plural = null;
    }

    let channel = null;
    if (typeof BroadcastChannel === "function") {
      try {
        channel = new BroadcastChannel(CHANNEL_NAME);
        channel.onmessage = (event) => onTabMessage(event.data);
      } catch (e) {
        channel = null;
      }
    }

    // Listeners -----------------------------------------------------------

    for (const type of ACTIVITY_EVENTS) window.addEventListener(type, onActivityEvent, LISTEN);
    document.addEventListener("keydown", onDialogKeydown, true);
    document.addEventListener("focusin", onFocusIn, true);
    document.addEventListener("visibilitychange", onVisibilityChange);
    document.addEventListener("input", onFieldChange, true);
    document.addEventListener("change", onFieldChange, true);
    document.addEventListener("reset", onReset, true);
    window.addEventListener("submit", onSubmit, true);
    window.addEventListener("pageshow", onPageShow);
    window.addEventListener("message", onWindowMessage);
    window.addEventListener("online", onOnline);
    if (!channel) window.addEventListener("storage", onStorage);
    if (ui.stay) ui.stay.addEventListener("click", onStayClick);
    if (ui.logout) ui.logout.addEventListener("click", onLogoutClick);
    if (ui.other) ui.other.addEventListener("click", onOtherUserClick);
    const heartbeat = setInterval(onHeartbeat, HEARTBEAT_MS);

    // This page load was a request the server counted (or judged passive):
    // other tabs adopt the time it reports.
    broadcast({ type: "activity", at: lastActivity, serverStamp: serverStamp });
    apply();

    return Object.freeze({
      /** Records user activity now, as a click or a key press would, and shares it with every tab. */
      activity() {
        recordActivity(Date.now());
      },
      /** Asks the server at once how long the session has been idle; resolves when the answer is applied. */
      ping() {
        return requestPing(Date.now());
      },
      /** Stops every timer, listener and tab message of this page; the page stays as it is. */
      stop() {
        stop();
      },
    });

    // Timing --------------------------------------------------------------

    /**
     * Shows or hides the warning from the shared state and schedules the
     * next ping. Every tab computes the same times from the same state, so
     * their pings coincide and the election below keeps only one.
     */
    function apply() {
      clearTimeout(timer);
      timer = 0;
      if (state !== ACTIVE) return;
      const now = Date.now();
      const idle = now - lastActivity;
      const failing = failures > 0;
      const soonest = failing ? Math.max(now, lastFailureAt + retryDelay()) : now;
      const confirmedFor = (limitMs) =>
        confirmedIdleMs >= limitMs && serverStamp >= lastActivity - STAMP_TOLERANCE_MS;
      let due;
      let fireAt;
      let wakeAt = Infinity; // an earlier look without asking (see below)

      if (idle >= expireMs) {
        // Only the server's answer may end the session: unavailable, however
        // long, the page stays as it is, warned, and keeps asking.
        if (failing || warningShown) showWarning();
        due = lastActivity + expireMs;
        // The server still counted it alive (rounding): ask again shortly.
        if (confirmedFor(expireMs)) due = Math.max(due, confirmedAt + 1000);
        fireAt = Math.max(due, soonest);
      } else if (idle >= warnMs) {
        if (confirmedFor(warnMs)) {
          showWarning();
          due = lastActivity + expireMs + EXPIRE_SLACK_MS;
          fireAt = Math.max(due, soonest);
        } else {
          // Not confirmed yet: ask first, no flicker when another tab was active.
          if (failing) showWarning();
          due = lastActivity + warnMs;
          fireAt = Math.max(due, soonest);
        }
      } else {
        hideWarning(true);
        due = lastActivity + warnMs;
        // Unavailable: warn on time, but ask again only once the retry
        // delay (the server's Retry-After) has passed.
        fireAt = Math.max(due, soonest);
        if (fireAt > due) wakeAt = due;
      }

      // Activity the server has not heard of must reach it before the
      // server's own warning point, or it would expire an active user.
      if (lastActivity > serverStamp + STAMP_TOLERANCE_MS) {
        const reportAt = Math.max(serverStamp + warnMs, soonest);
        if (reportAt < fireAt) {
          due = lastActivity;
          fireAt = reportAt;
        }
      }
      renderUnavailable();
      schedule(due, fireAt, wakeAt);
    }

    /** Pings for `due` at `fireAt`; only re-applies the state at an earlier `wakeAt`. */
    function schedule(due, fireAt, wakeAt) {
      const at = Math.min(fireAt, wakeAt);
      const delay = Math.min(Math.max(at - Date.now(), 0), MAX_TIMEOUT_MS);
      timer = setTimeout(() => {
        timer = 0;
        // A wake-up, or a capped timer: not time to ask yet.
        if (at < fireAt || Date.now() < fireAt - 1000) apply();
        else requestPing(due);
      }, delay);
    }

    function retryDelay() {
      if (retryAfterMs) return retryAfterMs;
      return RETRY_MS[Math.min(failures, RETRY_MS.length) - 1] || RETRY_MS[0];
    }

    /**
     * The server's Retry-After (seconds, or an HTTP date) in ms, kept within
     * the retry schedule's range: a server under strain may ask for patience,
     * but neither a hammering nor a page left waiting for hours. 0 when absent.
     */
    function retryAfter(response) {
      const value = response && typeof response.retryAfter === "string" ? response.retryAfter.trim() : "";
      if (!value) return 0;
      const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
      if (!isFinite(ms)) return 0;
      return clampRetry(ms);
    }

    function clampRetry(ms) {
      return Math.min(Math.max(ms, RETRY_MS[0]), RETRY_MS[RETRY_MS.length - 1]);
    }

    // Pinging and the election of the one tab that pings -----------------

    /**
     * Gets the server's idle time as of `due` or later. An answer that any
     * tab got after `due` is reused; otherwise one tab, elected by a lock,
     * pings while the others wait for its broadcast answer.
     */
    function requestPing(due) {
      if (state !== ACTIVE || pinging || staying) return Promise.resolve();
      clearTimeout(peerTimer);
      peerTimer = 0;
      const known = knownPong();
      if (covers(known, due)) {
        takePong(known, false);
        return Promise.resolve();
      }
      return withPingLock((owner) => {
        if (state !== ACTIVE || pinging || staying) return undefined;
        const answer = knownPong();
        if (covers(answer, due)) {
          takePong(answer, false);
          return undefined;
        }
        if (!owner) {
          // Another tab is pinging right now; its answer comes by message.
          peerTimer = setTimeout(() => requestPing(due), PEER_WAIT_MS);
          return undefined;
        }
        return ping().then(() => sleep(LOCK_LINGER_MS));
      });
    }

    /**
     * Whether another exchange's answer can stand for a ping due at `due`:
     * asked late enough, and aware of this tab's latest activity (else the
     * server never learns of it and would expire an active user).
     */
    function covers(pong, due) {
      return !!pong && pong.started >= due &&
        (pong.result === "logout" || pong.stamp >= lastActivity - STAMP_TOLERANCE_MS);
    }

    async function ping() {
      pinging = true;
      const started = Date.now();
      // A wall clock that stepped back would make idleFor 0, "active now":
      // then say nothing of idleness and let the server answer alone.
      const idleFor = started >= lastActivity ? Math.floor((started - lastActivity) / 1000) : null;
      const separator = config.pingUrl.indexOf("?") === -1 ? "?" : "&";
      let result;
      let retryMs = 0;
      try {
        const url = idleFor === null ? config.pingUrl : config.pingUrl + separator + "idleFor=" + idleFor;
        const response = await request(url, {
          method: "GET",
          headers: { Accept: "application/json" },
        });
        retryMs = retryAfter(response);
        // Only a 401 or the answer "logout" ends the session; a 503 (store
        // down) or any other failure leaves `result` undefined: unavailable.
        if (response.status === 401) {
          result = "logout";
        } else if (response.ok) {
          const body = response.body;
          if (body === "logout" || (typeof body === "number" && isFinite(body) && body >= 0)) {
            result = body;
          }
        }
      } catch (e) {
        result = undefined; // no answer (network error, timeout): unavailable
      } finally {
        pinging = false;
      }
      finishExchange(result, started, retryMs);
    }

    /**
     * Shares and applies the answer of a ping or keepalive; `undefined` is a
     * failure (the server unavailable), retried after `retryMs` if set.
     */
    function finishExchange(result, started, retryMs) {
      if (state === STOPPED) return;
      const done = Date.now();
      if (result === undefined) {
        broadcast({ type: "pong", error: true, started: started, done: done, retryMs: retryMs || 0 });
        noteFailure(done, retryMs);
        return;
      }
      const pong = {
        id: tabId + ":" + started,
        started: started,
        done: done,
        result: result,
        stamp: typeof result === "number" ? done - result * 1000 : null,
      };
      writeStorage(PONG_KEY, pong);
      broadcast(Object.assign({ type: "pong" }, pong));
      takePong(pong, true);
    }

    /** The server was unavailable: keep the page, retry later (never expire for it). */
    function noteFailure(at, retryMs) {
      if (state !== ACTIVE) return;
      failures += 1;
      lastFailureAt = at;
      retryAfterMs = typeof retryMs === "number" && retryMs > 0 ? clampRetry(retryMs) : 0;
      apply();
    }

    function takePong(pong, own) {
      if (state !== ACTIVE) return;
      if (pong.started < pongFloor) {
        // Asked before this page or its relogin: it speaks of another session.
        if (own) apply();
        return;
      }
      if (!latestPong || pong.started >= latestPong.started) latestPong = pong;
      clearTimeout(peerTimer);
      peerTimer = 0;
      if (pong.result === "logout") {
        expire("timeout", own, pong.started);
        return;
      }
      // An answer: the server is back, the normal cycle resumes.
      failures = 0;
      retryAfterMs = 0;
      serverStamp = Math.max(serverStamp, pong.stamp);
      confirmedIdleMs = pong.result * 1000;
      confirmedAt = pong.done;
      // Activity after the ping left is kept; the server learns it next time.
      lastActivity = Math.max(lastActivity, pong.stamp);
      if (pendingActivity) {
        const at = pendingActivity;
        pendingActivity = 0;
        lastActivity = Math.max(lastActivity, at);
        broadcast({ type: "activity", at: lastActivity });
      }
      const wasWarned = warningShown;
      apply();
      if (own && warningShown && !wasWarned) {
        broadcast({ type: "warning", shown: true, at: lastActivity });
      }
      if (heldForms.length && Date.now() - lastActivity < expireMs - HOLD_MARGIN_MS) releaseHeldForms();
    }

    function knownPong() {
      const stored = readStorage(PONG_KEY);
      const valid = stored && typeof stored.started === "number" && typeof stored.done === "number" &&
        (stored.result === "logout" || (typeof stored.result === "number" && typeof stored.stamp === "number"));
      const best = valid && (!latestPong || stored.started > latestPong.started) ? stored : latestPong;
      return best && best.started >= pongFloor ? best : null;
    }

    /** Runs `task(owner)` under the cross-tab ping lock; `owner` is false when another tab holds it. */
    async function withPingLock(task, wait) {
      const locks = navigator.locks;
      if (locks && typeof locks.request === "function") {
        let ran = false;
        const guarded = (lock) => {
          ran = true;
          // Never hold the lock past a lease, whatever the task waits for.
          const work = Promise.resolve()
            .then(() => task(wait ? true : lock !== null))
            .catch((e) => console.error("session_security:", e));
          return Promise.race([work, sleep(LEASE_MS)]);
        };
        try {
          return await locks.request(LOCK_NAME, wait ? {} : { ifAvailable: true }, guarded);
        } catch (e) {
          if (ran) return undefined; // Web Locks refused after the task: nothing to redo
        }
      }
      return leaseLock(task, wait);
    }

    /** The lock without Web Locks: a short lease in localStorage, read back after a pause. */
    async function leaseLock(task, wait) {
      const now = Date.now();
      const lease = readStorage(LEASE_KEY);
      if (!wait && lease && lease.owner !== tabId && now - lease.at < LEASE_MS) return task(false);
      if (!writeStorage(LEASE_KEY, { owner: tabId, at: now })) return task(true); // no storage: alone
      if (!wait) {
        await sleep(25 + Math.random() * 50);
        const mine = readStorage(LEASE_KEY);
        if (!mine || mine.owner !== tabId) return task(false);
      }
      try {
        return await task(true);
      } finally {
        const mine = readStorage(LEASE_KEY);
        if (mine && mine.owner === tabId) removeStorage(LEASE_KEY);
      }
    }

    // Activity ------------------------------------------------------------

    function onActivityEvent(event) {
      if (state !== ACTIVE) return;
      if (warningShown && !dismissesWarning(event)) return;
      const now = Date.now();
      if (now - lastHandled < THROTTLE_MS) return;
      lastHandled = now;
      recordActivity(now);
    }

    /**
     * While warned, only a deliberate click, tap or key press extends the
     * session: moving the pointer towards "Log out" must not dismiss it, and
     * the dialog's own buttons and navigation keys do their own work.
     */
    function dismissesWarning(event) {
      switch (event.type) {
        case "pointerdown":
        case "touchstart":
          return !isDialogButton(event.target);
        case "keydown":
          return !NAVIGATION_KEYS.has(event.key);
        default:
          return false;
      }
    }

    function isDialogButton(target) {
      return !!target && ((ui.stay && ui.stay.contains(target)) || (ui.logout && ui.logout.contains(target)));
    }

    function recordActivity(now) {
      if (state !== ACTIVE) return;
      if (now - lastActivity >= expireMs) {
        // Back from sleep past the expiry: the server decides first.
        pendingActivity = Math.max(pendingActivity, now);
        // Offline: keep to the retry schedule instead of a ping per keystroke.
        if (!(failures && now < lastFailureAt + retryDelay())) requestPing(now);
        return;
      }
      const wasWarned = warningShown;
      lastActivity = Math.max(lastActivity, now);
      broadcast({ type: "activity", at: lastActivity });
      if (wasWarned) broadcast({ type: "warning", shown: false, at: lastActivity });
      apply(); // hides the warning; unreported activity pings at once
    }

    function adoptActivity(at, stamp) {
      const now = Date.now() + 5000; // another tab's clock is ours, give or take
      let changed = false;
      if (typeof at === "number" && at > lastActivity && at <= now) {
        lastActivity = at;
        changed = true;
      }
      if (typeof stamp === "number" && stamp > serverStamp && stamp <= now) {
        serverStamp = stamp;
        changed = true;
      }
      return changed;
    }

    // Stay / log out ------------------------------------------------------

    function onStayClick(event) {
      event.preventDefault();
      stay();
    }

    /** "Stay signed in": keepalive counts as activity on the server. */
    function stay() {
      if (state !== ACTIVE || staying || loggingOut) return Promise.resolve();
      const now = Date.now();
      lastHandled = now;
      if (now - lastActivity < expireMs) {
        lastActivity = Math.max(lastActivity, now);
      } else {
        // Past the expiry only the server's answer says whether it still
        // counts: unanswered (unavailable), the warning must come back.
        pendingActivity = Math.max(pendingActivity, now);
      }
      staying = true; // no ping of this tab meanwhile: the keepalive tells the server
      clearTimeout(timer);
      timer = 0;
      hideWarning(true);
      // Hold the ping lock so other tabs wait for this answer instead of pinging.
      return withPingLock(async () => {
        if (state !== ACTIVE) {
          staying = false;
          return;
        }
        broadcast({ type: "activity", at: lastActivity });
        broadcast({ type: "warning", shown: false, at: lastActivity });
        const started = Date.now();
        let result;
        let retryMs = 0;
        try {
          const response = await request(config.keepaliveUrl, {
            method: "POST",
            headers: csrfHeaders(),
          });
          retryMs = retryAfter(response);
          if (response.status === 401) {
            result = "logout";
          } else if (response.ok) {
            const body = response.body;
            if (body && body.authenticated === false) result = "logout";
            else if (body && typeof body.idle === "number" && body.idle >= 0) result = body.idle;
          }
        } catch (e) {
          result = undefined;
        } finally {
          staying = false;
        }
        finishExchange(result, started, retryMs);
        await sleep(LOCK_LINGER_MS);
      }, true);
    }

    function onLogoutClick(event) {
      event.preventDefault();
      logout();
    }

    /** "Log out": ends the session on the server, then leaves like an expiry without relogin. */
    async function logout() {
      if (state !== ACTIVE || loggingOut) return;
      loggingOut = true; // a ping answering "logout" meanwhile is this logout
      setButtonsDisabled(true);
      let done = false;
      try {
        const response = await request(config.logoutUrl, {
          method: "POST",
          headers: csrfHeaders(),
        });
        done = response.ok || response.status === 401;
      } catch (e) {
        done = false;
      }
      setButtonsDisabled(false);
      if (done) {
        if (state === ACTIVE) expire("logout", true);
        else broadcast({ type: "expired", reason: "logout" });
        return;
      }
      loggingOut = false;
      if (ui.logout && warningShown) ui.logout.focus();
    }

    function setButtonsDisabled(disabled) {
      if (ui.stay) ui.stay.disabled = disabled;
      if (ui.logout) ui.logout.disabled = disabled;
    }

    // Warning dialog ------------------------------------------------------

    function showWarning() {
      if (!warningShown) {
        warningShown = true;
        announced = new Set();
        if (ui.counter) ui.counter.textContent = counterText(secondsLeft()); // before it shows
        const active = document.activeElement;
        focusBeforeWarning = active && active !== document.body ? active : null;
        document.documentElement.classList.add("session_security_warned");
        if (ui.warning) {
          ui.warning.hidden = false;
          const target = ui.stay || ui.warning.querySelector(".session_security_modal");
          if (target && typeof target.focus === "function") target.focus({ preventScroll: true });
        }
      }
      renderCountdown();
    }

    function hideWarning(restoreFocus) {
      if (!warningShown) return;
      warningShown = false;
      clearTimeout(countdownTimer);
      countdownTimer = 0;
      document.documentElement.classList.remove("session_security_warned");
      if (ui.warning) ui.warning.hidden = true;
      if (ui.announce) ui.announce.textContent = "";
      renderUnavailable();
      const back = focusBeforeWarning;
      focusBeforeWarning = null;
      if (!restoreFocus) return;
      // After the pointer's own focus change (a click on the overlay).
      setTimeout(() => {
        const active = document.activeElement;
        const lost = !active || active === document.body || (ui.warning && ui.warning.contains(active));
        if (lost && back && back.isConnected && typeof back.focus === "function") {
          back.focus({ preventScroll: true });
        }
      }, 0);
    }

    function secondsLeft() {
      return Math.max(0, Math.ceil((lastActivity + expireMs - Date.now()) / 1000));
    }

    function renderCountdown() {
      clearTimeout(countdownTimer);
      countdownTimer = 0;
      if (!warningShown) return;
      const left = secondsLeft();
      if (ui.counter) ui.counter.textContent = counterText(left);
      if (announced.size === 0) {
        announce(left);
        announced.add("start");
        for (const mark of ANNOUNCE_AT) if (mark >= left) announced.add(mark);
      } else {
        for (const mark of ANNOUNCE_AT) {
          if (left <= mark && !announced.has(mark)) {
            announce(left);
            for (const done of ANNOUNCE_AT) if (done >= left) announced.add(done);
            break;
          }
        }
      }
      // Tick on the second boundaries of the real time left.
      const msLeft = lastActivity + expireMs - Date.now();
      const nextTick = msLeft > 0 ? (msLeft % 1000 || 1000) + 20 : 1000;
      countdownTimer = setTimeout(renderCountdown, nextTick);
    }

    function counterText(n) {
      const forms = strings.counter;
      let text;
      if (typeof forms === "string") {
        text = forms;
      } else {
        let category = "other";
        try {
          if (plural) category = plural.select(n);
        } catch (e) {
          category = "other";
        }
        text = (forms && (forms[category] || forms.other)) || DEFAULT_STRINGS.counter.other;
      }
      return fill(text, n);
    }

    function announce(n) {
      if (!ui.announce || typeof strings.announce !== "string") return;
      ui.announce.textContent = "";
      // A separate task, so that a repeated text still counts as a change.
      setTimeout(() => {
        if (warningShown && ui.announce) ui.announce.textContent = fill(strings.announce, n);
      }, 50);
    }

    function fill(text, n) {
      const shown = numbers ? numbers.format(n) : String(n);
      return String(text).replace(/\{n\}/g, shown);
    }

    /**
     * The warning's "connection lost, retrying" line: taken from the markup
     * if it has one, else made here, so that pages whose markup predates it
     * (an own include) get it too. Null without a warning dialog.
     */
    function unavailableLine() {
      const found = byId("session_security_unavailable");
      if (found) return found;
      const modal = ui.warning && ui.warning.querySelector(".session_security_modal");
      if (!modal) return null;
      const line = document.createElement("p");
      line.id = "session_security_unavailable";
      line.className = "session_security_unavailable";
      line.setAttribute("role", "status");
      line.hidden = true;
      const actions = modal.querySelector(".session_security_actions");
      modal.insertBefore(line, actions && actions.parentElement === modal ? actions : null);
      return line;
    }

    /** Shows the line while warned and the server is unavailable; hides it otherwise. */
    function renderUnavailable() {
      const line = ui.unavailable;
      if (!line) return;
      const show = warningShown && failures > 0 && state === ACTIVE;
      if (show === !line.hidden) return;
      line.hidden = !show;
      // Written as it shows, so that the status region announces a change.
      line.textContent = show ? String(strings.unavailable || DEFAULT_STRINGS.unavailable) : "";
    }

    function onDialogKeydown(event) {
      if (!warningShown || state !== ACTIVE) return;
      if (event.key === "Escape") {
        event.preventDefault();
        stay();
        return;
      }
      if (event.key !== "Tab" || !ui.warning) return;
      const items = Array.from(ui.warning.querySelectorAll("button, [href], input, select, textarea, [tabindex]"))
        .filter((item) => !item.disabled && item.tabIndex >= 0 && item.getClientRects().length > 0);
      const active = document.activeElement;
      if (items.length === 0) {
        event.preventDefault();
        return;
      }
      const first = items[0];
      const last = items[items.length - 1];
      const inside = ui.warning.contains(active);
      if (event.shiftKey && (active === first || !inside)) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (active === last || !inside)) {
        event.preventDefault();
        first.focus();
      }
    }

    function onFocusIn(event) {
      if (!warningShown || !ui.warning || ui.warning.contains(event.target)) return;
      const target = ui.stay || ui.warning.querySelector(".session_security_modal");
      if (target && typeof target.focus === "function") target.focus({ preventScroll: true });
    }

    // Expiry and relogin --------------------------------------------------

    /**
     * Ends this page's session: "timeout" (the server said so) opens the
     * relogin dialog when relogin is on; "logout" (the user asked) leaves.
     */
    /** Ends this page's session; `since` is when the evidence was asked for. */
    function expire(reason, tellOtherTabs, since) {
      if (state !== ACTIVE) return;
      if (loggingOut) reason = "logout";
      state = EXPIRED;
      clearTimers();
      pendingActivity = 0;
      if (tellOtherTabs) {
        broadcast({ type: "expired", reason: reason, since: typeof since === "number" ? since : Date.now() });
      }
      const back = focusBeforeWarning || document.activeElement;
      hideWarning(false);
      if (reason !== "logout" && relogin && ui.relogin && ui.frame) {
        showRelogin(back);
      } else {
        leave();
      }
    }

    function leave() {
      leaving = true;
      if (typeof config.afterLogoutUrl === "string" && config.afterLogoutUrl) {
        location.assign(config.afterLogoutUrl);
      } else {
        location.reload();
      }
    }

    function showRelogin(back) {
      focusBeforeRelogin = back && back !== document.body ? back : null;
      document.documentElement.classList.add("session_security_expired");
      inerted = [];
      for (const child of Array.from(document.body.children)) {
        if (child === ui.relogin || child === ui.announce) continue;
        inerted.push({
          element: child,
          inert: child.hasAttribute("inert"),
          hidden: child.getAttribute("aria-hidden"),
        });
        child.setAttribute("inert", "");
        child.setAttribute("aria-hidden", "true");
      }
      ui.frame.src = config.reloginUrl;
      ui.relogin.hidden = false;
      ui.frame.focus({ preventScroll: true });
    }

    function closeRelogin() {
      for (const saved of inerted) {
        if (!saved.inert) saved.element.removeAttribute("inert");
        if (saved.hidden === null) saved.element.removeAttribute("aria-hidden");
        else saved.element.setAttribute("aria-hidden", saved.hidden);
      }
      inerted = [];
      document.documentElement.classList.remove("session_security_expired");
      if (ui.relogin) ui.relogin.hidden = true;
      if (ui.frame) ui.frame.src = "about:blank";
      const back = focusBeforeRelogin;
      focusBeforeRelogin = null;
      if (back && back.isConnected && typeof back.focus === "function") back.focus({ preventScroll: true });
    }

    /**
     * Only our own relogin frame, on our origin, while the dialog is up, may
     * say who logged in: no other window can push a token or a navigation.
     * Same user: the server matched the backup, or, without one, the user
     * tag matches the one this page was rendered for.
     */
    /**
     * The user who logged in again is this page's user only if the tags
     * match; the server's `false` (the backup was another user's) overrides.
     */
    function isSameUser(serverSays, userTag) {
      return serverSays !== false && !!userTag && !!config.userTag && userTag === config.userTag;
    }

    function onWindowMessage(event) {
      if (event.origin !== location.origin) return;
      if (!ui.frame || event.source !== ui.frame.contentWindow || state !== EXPIRED) return;
      const data = event.data;
      if (!data || typeof data !== "object" || data.type !== RELOGIN_MESSAGE) return;
      const token = typeof data.csrfToken === "string" && data.csrfToken ? data.csrfToken : null;
      const userTag = typeof data.userTag === "string" ? data.userTag : null;
      reloggedIn(isSameUser(data.sameUser, userTag), token, true, userTag);
    }

    /**
     * After a login in the relogin dialog of any tab. Same user: carry on with
     * the page as it is, fresh CSRF token, held forms sent. Another user:
     * nothing of this page may be shown again.
     */
    function reloggedIn(sameUser, csrfToken, tellOtherTabs, userTag) {
      if (state === STOPPED) return;
      if (tellOtherTabs) {
        // Each tab decides by its own user tag: tabs may show different users.
        broadcast({ type: "relogin", userTag: userTag, csrfToken: csrfToken });
      }
      if (!sameUser) {
        leaving = true;
        state = EXPIRED;
        clearTimers();
        heldForms = [];
        location.replace("/");
        return;
      }
      if (csrfToken) refreshCsrf(csrfToken);
      if (state === EXPIRED) closeRelogin();
      state = ACTIVE;
      leaving = false;
      const now = Date.now();
      lastActivity = now;
      serverStamp = now;
      confirmedIdleMs = 0;
      confirmedAt = now;
      failures = 0;
      retryAfterMs = 0;
      pendingActivity = 0;
      latestPong = null;
      pongFloor = now;
      apply();
      releaseHeldForms();
    }

    function refreshCsrf(token) {
      config.csrfToken = token;
      const name = window.CSS && CSS.escape ? CSS.escape(csrfField) : csrfField.replace(/["\\]/g, "\\$&");
      for (const input of document.querySelectorAll('input[name="' + name + '"]')) input.value = token;
      for (const meta of document.querySelectorAll('meta[name="csrf-token"]')) meta.setAttribute("content", token);
    }

    function onOtherUserClick(event) {
      event.preventDefault();
      leaving = true;
      heldForms = [];
      location.assign("/");
    }

    function onOnline() {
      if (state === EXPIRED && ui.relogin && !ui.relogin.hidden && ui.frame) {
        ui.frame.src = config.reloginUrl; // the first load may have failed offline
      } else if (state === ACTIVE && failures > 0) {
        requestPing(Date.now() - RECENT_MS);
      }
    }

    // Held form submissions -----------------------------------------------

    /**
     * A submit made when the session is (or may just have) expired would be
     * lost on a login page: hold it, and send it once the session is alive,
     * after the relogin if there has to be one.
     */
    function onSubmit(event) {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || state === STOPPED) return;
      if (releasing.has(form) || leaving) {
        dirtyForms.delete(form);
        return;
      }
      const mayBeExpired = state === EXPIRED || Date.now() - lastActivity >= expireMs - HOLD_MARGIN_MS;
      if (!mayBeExpired) {
        dirtyForms.delete(form);
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      const submitter = event.submitter || null;
      const held = heldForms.find((entry) => entry.form === form);
      if (held) held.submitter = submitter;
      else heldForms.push({ form: form, submitter: submitter });
      // Submitting is activity: the keepalive tells the server so, and its
      // answer (alive, or expired and so the relogin first) releases the form.
      if (state === ACTIVE) stay();
    }

    function releaseHeldForms() {
      const queue = heldForms;
      heldForms = [];
      for (const entry of queue) {
        const form = entry.form;
        if (!form.isConnected) continue;
        const submitter = entry.submitter && entry.submitter.isConnected && entry.submitter.form === form
          ? entry.submitter
          : null;
        releasing.add(form);
        try {
          if (typeof form.requestSubmit === "function") {
            if (submitter) form.requestSubmit(submitter);
            else form.requestSubmit();
          } else {
            dirtyForms.delete(form);
            form.submit();
          }
        } catch (e) {
          console.error("session_security: could not resubmit a held form", e);
        } finally {
          releasing.delete(form); // the submit event ran synchronously
        }
      }
    }

    // Unsaved-changes guard -----------------------------------------------

    function onFieldChange(event) {
      const target = event.target;
      const form = target && target.form;
      if (!(form instanceof HTMLFormElement)) return;
      dirtyForms.add(form);
      if (!unloadGuarded) {
        unloadGuarded = true;
        window.addEventListener("beforeunload", onBeforeUnload);
      }
    }

    function onReset(event) {
      if (event.target instanceof HTMLFormElement) dirtyForms.delete(event.target);
    }

    function onBeforeUnload(event) {
      if (leaving || state !== ACTIVE) return undefined;
      let dirty = false;
      for (const form of dirtyForms) {
        if (form.isConnected) dirty = true;
        else dirtyForms.delete(form);
      }
      if (!dirty) return undefined;
      event.preventDefault();
      event.returnValue = strings.unsaved;
      return strings.unsaved;
    }

    // Waking up -----------------------------------------------------------

    /**
     * Asks at once on waking or coming back to the tab, except while the
     * server is unavailable and its retry delay has not passed: the
     * scheduled retry comes soon enough, and switching tabs must not hammer
     * a server that asked for patience.
     */
    function pingOnWake(now) {
      if (state !== ACTIVE || (failures > 0 && now < lastFailureAt + retryDelay())) return;
      requestPing(now - RECENT_MS);
    }

    function onVisibilityChange() {
      const visible = document.visibilityState === "visible";
      if (visible && !wasVisible) pingOnWake(Date.now());
      wasVisible = visible;
      lastBeat = Date.now();
    }

    function onPageShow(event) {
      // Restored from the back/forward cache after leaving: never show it as it was.
      if (event.persisted && state !== ACTIVE && state !== STOPPED) location.reload();
      else if (event.persisted) pingOnWake(Date.now());
    }

    function onHeartbeat() {
      const now = Date.now();
      const gap = now - lastBeat;
      lastBeat = now;
      const visible = document.visibilityState === "visible";
      // Hidden tabs' timers are throttled: a gap there is not a sleep.
      if (gap > SLEEP_GAP_MS && visible && wasVisible) pingOnWake(now);
      wasVisible = visible;
    }

    // Tabs ----------------------------------------------------------------

    function broadcast(message) {
      if (state === STOPPED) return;
      message.from = tabId;
      if (channel) {
        try {
          channel.postMessage(message);
          return;
        } catch (e) {
          // Fall through to storage.
        }
      }
      // The storage event reaches the other tabs; removing at once keeps
      // tokens off the disk.
      message.nonce = Math.random();
      if (writeStorage(MESSAGE_KEY, message)) removeStorage(MESSAGE_KEY);
    }

    function onStorage(event) {
      if (event.key !== MESSAGE_KEY || !event.newValue) return;
      let message;
      try {
        message = JSON.parse(event.newValue);
      } catch (e) {
        return;
      }
      onTabMessage(message);
    }

    function onTabMessage(message) {
      if (!message || typeof message !== "object" || message.from === tabId || state === STOPPED) return;
      switch (message.type) {
        case "activity":
          if (state === ACTIVE && adoptActivity(message.at, message.serverStamp)) apply();
          break;
        case "warning":
          if (state === ACTIVE) {
            adoptActivity(message.at);
            apply();
          }
          break;
        case "pong":
          if (state !== ACTIVE) break;
          if (message.error) {
            if (peerTimer) {
              clearTimeout(peerTimer);
              peerTimer = 0;
              noteFailure(typeof message.done === "number" ? message.done : Date.now(),
                typeof message.retryMs === "number" ? message.retryMs : 0);
            }
          } else if (typeof message.started === "number" && typeof message.done === "number" &&
            (message.result === "logout" || (typeof message.result === "number" && typeof message.stamp === "number"))) {
            takePong({
              id: message.id,
              started: message.started,
              done: message.done,
              result: message.result,
              stamp: message.stamp,
            }, false);
          }
          break;
        case "expired":
          // Asked before this page's (re)login: it speaks of a session already replaced.
          if (typeof message.since === "number" && message.since < pongFloor) break;
          if (message.reason === "logout") {
            // The user logged out in another tab: leave, even from the relogin dialog.
            if (state === ACTIVE) expire("logout", false);
            else if (state === EXPIRED && !leaving) leave();
          } else if (state === ACTIVE) {
            expire("timeout", false);
          }
          break;
        case "relogin":
          reloggedIn(isSameUser(null, typeof message.userTag === "string" ? message.userTag : null),
            typeof message.csrfToken === "string" && message.csrfToken ? message.csrfToken : null, false);
          break;
        default:
          break;
      }
    }

    // Stop ----------------------------------------------------------------

    function clearTimers() {
      clearTimeout(timer);
      clearTimeout(peerTimer);
      clearTimeout(countdownTimer);
      timer = peerTimer = countdownTimer = 0;
    }

    function stop() {
      if (state === STOPPED) return;
      hideWarning(false);
      state = STOPPED;
      clearTimers();
      clearInterval(heartbeat);
      for (const type of ACTIVITY_EVENTS) window.removeEventListener(type, onActivityEvent, LISTEN);
      document.removeEventListener("keydown", onDialogKeydown, true);
      document.removeEventListener("focusin", onFocusIn, true);
      document.removeEventListener("visibilitychange", onVisibilityChange);
      document.removeEventListener("input", onFieldChange, true);
      document.removeEventListener("change", onFieldChange, true);
      document.removeEventListener("reset", onReset, true);
      window.removeEventListener("submit", onSubmit, true);
      window.removeEventListener("pageshow", onPageShow);
      window.removeEventListener("message", onWindowMessage);
      window.removeEventListener("online", onOnline);
      window.removeEventListener("storage", onStorage);
      window.removeEventListener("beforeunload", onBeforeUnload);
      if (ui.stay) ui.stay.removeEventListener("click", onStayClick);
      if (ui.logout) ui.logout.removeEventListener("click", onLogoutClick);
      if (ui.other) ui.other.removeEventListener("click", onOtherUserClick);
      if (channel) {
        channel.onmessage = null;
        channel.close();
        channel = null;
      }
    }

    // Small pieces --------------------------------------------------------

    function csrfHeaders() {
      const headers = { Accept: "application/json" };
      if (typeof config.csrfToken === "string" && config.csrfToken) headers[csrfHeader] = config.csrfToken;
      return headers;
    }

    /**
     * Fetches `url` and reads its JSON body, all within FETCH_TIMEOUT_MS: a
     * body that stalls must not leave a tab (and the ping lock) waiting.
     * Resolves to `{status, ok, body, retryAfter}`; `body` is null when not
     * JSON, `retryAfter` the raw Retry-After header or null.
     */
    async function request(url, init) {
      const controller = typeof AbortController === "function" ? new AbortController() : null;
      let abort = 0;
      const timeout = new Promise((resolve, reject) => {
        abort = setTimeout(() => {
          if (controller) controller.abort();
          reject(new Error("session_security: request timed out"));
        }, FETCH_TIMEOUT_MS);
      });
      const exchange = (async () => {
        const response = await fetch(url, Object.assign({
          credentials: "same-origin",
          cache: "no-store",
          redirect: "follow",
          signal: controller ? controller.signal : undefined,
        }, init));
        let body = null;
        try {
          body = await response.json();
        } catch (e) {
          body = null;
        }
        const retryAfterHeader = response.headers ? response.headers.get("Retry-After") : null;
        return { status: response.status, ok: response.ok, body: body, retryAfter: retryAfterHeader };
      })();
      try {
        return await Promise.race([exchange, timeout]);
      } finally {
        clearTimeout(abort);
      }
    }
  }

  // Shared helpers ----------------------------------------------------------

  function byId(id) {
    return document.getElementById(id);
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function readStorage(key) {
    try {
      const raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  }

  function writeStorage(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
      return true;
    } catch (e) {
      return false;
    }
  }

  function removeStorage(key) {
    try {
      window.localStorage.removeItem(key);
    } catch (e) {
      // Storage unavailable: nothing stored either.
    }
  }
})();
