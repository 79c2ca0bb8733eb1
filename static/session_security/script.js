/*
 * rocket_session_security: the browser half.
 *
 * Warns before an idle session expires, keeps every tab of one user in
 * agreement on when that user was last active, and locks the page once the
 * server has ended the session: the page's content leaves the document until
 * the same user logs in again in the relogin dialog. No dependencies and no
 * inline script: the configuration is read from
 * <script type="application/json" id="session_security_config">.
 *
 * The server is the referee: the warning opens and the page locks only on the
 * answer of GET pingUrl?idleFor=N&tag=T. A 503 or no answer is "unavailable",
 * never a logout: the page stays and the client retries with backoff. One
 * tab per user also holds the server's event stream, which says at once
 * when the session ended elsewhere; the pings stay the fallback.
 *
 * The crate serves this file minified (comments and whitespace removed, names
 * kept): hence compact code, semicolons everywhere and no regex literals.
 */
(() => {
  "use strict";
  const D = document;
  const W = window;

  // One client per page, and none in a frame of a page that runs one (the
  // relogin frame).
  if (W.sessionSecurity) return;
  try {
    if (parent != W && parent.sessionSecurity) return;
  } catch (e) {
    // A cross-origin parent: this page runs its own client.
  }

  const NAME = "session_security";
  // Client states, the live ones first: `state < EXPIRED` is "live".
  const ACTIVE = 0;
  const WARNED = 1; // the server confirmed an idle time past warnAfter
  const UNAVAILABLE = 2; // the latest exchange failed (503, no answer)
  const EXPIRED = 3; // locked behind the relogin dialog
  const STOPPED = 4;
  const RECENT = 2000; // an answer this recent does for "ask at once"
  const TOLERANCE = 1500; // the server counts whole seconds
  const TIMEOUT = 10000; // per request, its body included
  const HOLD = 2000; // a submit this close to expiry waits for the server's word
  const RETRY = [2000, 5000, 10000, 30000]; // backoff while unavailable
  const CAPTURE = { capture: true };

  const $ = (id) => D.getElementById(NAME + "_" + id);
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
  /** `f(localStorage)`, or null where storage (or the JSON in it) fails. */
  const store = (f) => {
    try {
      return f(localStorage);
    } catch (e) {
      return null;
    }
  };
  const load = (key) => store((s) => JSON.parse(s.getItem(key)));
  const save = (key, value) => store((s) => s.setItem(key, JSON.stringify(value)) || 1);
  const drop = (key) => store((s) => s.removeItem(key));
  const put = (el, text) => {
    if (el && el.textContent != text) el.textContent = text;
  };

  /**
   * Messages between the tabs of this browser: BroadcastChannel, or storage
   * events where it is missing. Each carries the user's tag; a tab ignores
   * those of another user. Any script of the origin can post one: nothing
   * in them may uncover a locked page without the server's word.
   */
  class TabChannel {
    constructor(tag, on, receive) {
      this.id = Math.random().toString(36).slice(2);
      this.tag = tag;
      const take = (m) => m && m.from != this.id && m.tag === tag && receive(m);
      try {
        this.bc = new BroadcastChannel(NAME);
        on(this.bc, "message", (e) => take(e.data));
      } catch (e) {
        on(W, "storage", (e) => e.key == NAME && take(store(() => JSON.parse(e.newValue))));
      }
    }

    send(m) {
      m.from = this.id;
      m.tag = this.tag;
      if (this.bc) return this.bc.postMessage(m);
      // The storage event reaches the other tabs; removed at once (so the
      // next one is a change too), tokens stay off the disk.
      if (save(NAME, m)) drop(NAME);
    }
  }

  /**
   * Elects the one tab that pings, so that pings do not grow with tabs: Web
   * Locks, or a short lease in localStorage where they are missing (an
   * insecure origin). `name`: one lock per user.
   */
  class PingElection {
    constructor(id, name) {
      this.id = id;
      this.name = name;
    }

    /** Runs `task` (returns a promise) if this tab wins; resolves to whether it ran. */
    run(task) {
      let won = false;
      const go = () => {
        won = true;
        // Held past the answer a little, so that it reaches the other tabs
        // first; never past a lease, whatever the task waits for.
        return Promise.race([task().then(() => sleep(100)), sleep(TIMEOUT + 2000)]);
      };
      const locks = navigator.locks;
      const elected = locks ? locks.request(this.name, { ifAvailable: true }, (lock) => lock && go()) : Promise.reject();
      return elected.catch(() => won || this.lease(go)).then(() => won);
    }

    async lease(go) {
      const key = this.name;
      const mine = () => (load(key) || {}).id == this.id;
      const held = load(key);
      if (held && !mine() && Date.now() - held.at < TIMEOUT + 2000) return;
      if (!save(key, { id: this.id, at: Date.now() })) return go(); // no storage: alone
      await sleep(25 + Math.random() * 50); // the last writer wins
      if (!mine()) return;
      try {
        await go();
      } finally {
        if (mine()) drop(key);
      }
    }
  }

  /**
   * While the session is expired, the page's own content is out of the
   * document, held here: nobody at an unattended machine can read it or its
   * unsaved input, developer tools included (the browser's memory still
   * holds it). The same nodes go back after a same-user relogin, so inputs,
   * listeners, focus and scroll positions are as they were. The crate's own
   * elements (class session_security) stay.
   */
  class PageLock {
    take(title) {
      if (this.held) return;
      const body = D.body;
      this.held = [];
      // Each node with the crate element it preceded, to go back in place.
      let mark = null;
      for (let n = body.lastChild; n; n = n.previousSibling) {
        if (n.classList && n.classList.contains(NAME)) mark = n;
        else this.held.unshift([n, mark]);
      }
      this.scrolls = [D.scrollingElement, ...body.querySelectorAll("*")]
        .filter((el) => el && (el.scrollTop || el.scrollLeft))
        .map((el) => [el, el.scrollLeft, el.scrollTop]);
      this.active = D.activeElement;
      this.title = D.title;
      this.box = new DocumentFragment();
      for (const [n] of this.held) this.box.append(n);
      D.title = title;
    }

    give() {
      if (!this.held) return;
      for (const [n, mark] of this.held) D.body.insertBefore(n, mark);
      for (const [el, x, y] of this.scrolls) el.scrollTo(x, y);
      if (this.active && this.active.focus) this.active.focus({ preventScroll: true });
      D.title = this.title;
      this.drop();
    }

    /** Forgets the page: nothing of it can come back. */
    drop() {
      this.held = this.box = this.scrolls = this.active = null;
    }
  }

  /**
   * The warning: a modal dialog with the live countdown (each second) and a
   * "connection lost" line while the server is unavailable. Screen readers
   * hear it the way the GOV.UK / HMRC timeout dialog says it: whole minutes,
   * then every 20 seconds, each text once.
   */
  class WarningDialog {
    constructor(el, strings, lang, on, stay, logout) {
      this.el = el;
      this.s = strings;
      try {
        this.plural = new Intl.PluralRules(lang);
      } catch (e) {
        this.plural = new Intl.PluralRules((lang = "en"));
      }
      this.lang = lang;
      on($("stay"), "click", stay);
      on($("logout"), "click", logout);
      // Escape means "stay signed in".
      on(el, "cancel", (e) => {
        e.preventDefault();
        stay();
      });
    }

    /** `forms`: a text, or texts by plural category; {n} is the number. */
    text(forms, n) {
      const text = typeof forms == "string" ? forms : forms[this.plural.select(n)] || forms.other;
      return text.replaceAll("{n}", n.toLocaleString(this.lang));
    }

    /** Shows `left` seconds, or hides for null; `lost`: the server is unavailable. */
    render(left, lost) {
      const el = this.el;
      const s = this.s;
      const say = $("announce");
      if (left == null) {
        if (el.open) el.close(); // the focus goes back where it was
        put(say, (this.step = ""));
        return;
      }
      const line = $("unavailable");
      put($("counter"), this.text(s.counter, left));
      put(line, lost ? s.unavailable : "");
      if (line) line.hidden = !lost;
      if (!el.open) return el.showModal(); // announced from the next tick, once shown
      const minutes = left > 40 && Math.ceil(left / 60); // 41-60 s is "1 minute"
      const step = minutes ? -minutes : Math.ceil(left / 20);
      if (step == this.step || !left) return;
      this.step = step;
      // Without a minutes text, the seconds one says whole minutes.
      const forms = minutes && s.announce_minutes;
      put(say, this.text(forms || s.announce, forms ? minutes : minutes * 60 || left));
    }
  }

  /** The relogin dialog: the login page in a frame, over a page with nothing left in it. */
  class ReloginDialog {
    constructor(el, url, on) {
      this.el = el;
      this.url = url;
      this.frame = $("relogin_frame");
      this.title = $("relogin_title").textContent;
      // Escape does not uncover the page: the dialog stays until a login.
      on(el, "cancel", (e) => e.preventDefault());
      on(el, "close", () => this.up && el.showModal());
    }

    show() {
      this.up = true;
      this.load();
      this.el.showModal();
    }

    load() {
      this.frame.src = this.url;
    }

    hide() {
      this.up = false;
      this.el.close();
      this.frame.src = "about:blank";
    }
  }

  /**
   * Forms: a prompt before leaving a page with a changed form (never at an
   * expiry or a sign-out: the client stops first), and submissions made when
   * the session may have expired held until it is alive again, after the
   * relogin if there has to be one.
   */
  class FormGuard {
    constructor(client, on) {
      this.client = client;
      this.dirty = new Set();
      this.held = new Map(); // form → submitter
      const changed = (e) => {
        const form = e.target.form;
        if (!form) return;
        // Armed at the first change: an unload listener costs the back/forward cache.
        if (!this.armed) on(W, "beforeunload", (e) => this.unload(e));
        this.armed = this.dirty.add(form);
      };
      on(D, "input", changed, CAPTURE);
      on(D, "change", changed, CAPTURE);
      on(D, "reset", (e) => this.dirty.delete(e.target), CAPTURE);
      on(W, "submit", (e) => this.submit(e), CAPTURE);
    }

    submit(e) {
      const form = e.target;
      const c = this.client;
      if (form == this.releasing || Date.now() - c.last < c.expireMs - HOLD) {
        this.sent = Date.now();
        return this.dirty.delete(form);
      }
      e.preventDefault();
      e.stopImmediatePropagation();
      this.held.set(form, e.submitter);
      // Submitting is activity: the keepalive's answer (alive, or expired
      // and so the relogin first) releases the form.
      c.stay();
    }

    /** Sends the held submissions, each once. */
    release() {
      const held = this.held;
      this.held = new Map();
      for (const [form, by] of held) {
        if (!form.isConnected) continue;
        this.releasing = form; // its submit event runs synchronously
        try {
          form.requestSubmit(by && by.isConnected && by.form == form ? by : null);
        } catch (e) {
          console.error(NAME, e);
        }
        this.releasing = null;
      }
    }

    unload(e) {
      for (const form of this.dirty) {
        if (form.isConnected) {
          e.preventDefault();
          return (e.returnValue = this.client.c.strings.unsaved);
        }
      }
    }
  }

  /**
   * The client: one state machine over `last`, the last activity in any tab
   * of this user, and `stamp`, the server's last activity as of its latest
   * answer (both epoch ms). Every tab computes the same schedule from the
   * same shared state, so their pings coincide and the election keeps one.
   */
  class Client {
    constructor(c) {
      const t = Date.now();
      const ac = new AbortController();
      const on = (target, type, f, options) => target.addEventListener(type, f, Object.assign({ signal: ac.signal }, options));
      this.ac = ac;
      this.on = on;
      this.c = c;
      c.strings = c.strings || {};
      this.tag = c.userTag || "";
      this.seen = this.tag; // the user cookie as last read
      this.warnMs = c.warnAfter * 1000;
      this.expireMs = c.expireAfter * 1000;
      this.state = ACTIVE;
      this.floor = t; // answers asked before this page (or its relogin) are of another session
      this.last = this.stamp = t - (c.idle || 0) * 1000;
      // `pending`: activity past the expiry, waiting for the server's word.
      this.pending = this.fails = this.retryAt = this.handled = this.drops = 0;
      this.beat = t;

      // The dialogs must be children of <body>: the lock leaves those alone.
      for (const el of D.querySelectorAll("body * ." + NAME)) D.body.append(el);
      this.tabs = new TabChannel(this.tag, on, (m) => this.receive(m));
      this.election = new PingElection(this.tabs.id, NAME + "_ping" + this.tag);
      this.lock = new PageLock();
      this.forms = new FormGuard(this, on);
      this.warning = new WarningDialog($("warning"), c.strings, c.lang || D.documentElement.lang, on, () => this.stay(), () => this.logout());
      if (c.relogin && c.reloginUrl) this.relogin = new ReloginDialog($("relogin"), c.reloginUrl, on);

      for (const type of "pointerdown pointermove keydown wheel touchstart touchmove scroll".split(" ")) {
        on(W, type, (e) => this.event(e), { capture: true, passive: true });
      }
      const look = () => this.cookie();
      on(D, "visibilitychange", () => look() || (D.visibilityState == "visible" && this.wake()));
      on(W, "focus", look);
      if (W.cookieStore) on(cookieStore, "change", look);
      // Back from the back/forward cache: never shown as it was once left.
      on(W, "pageshow", (e) => e.persisted && (this.state < EXPIRED ? this.wake() : location.reload()));
      // The relogin frame's first load may have failed offline.
      on(W, "online", () => (this.state == EXPIRED ? this.relogin.load() : this.wake()));
      on(W, "message", (e) => this.message(e));
      // The user cookie, the schedule and the countdown.
      this.timer = setInterval(() => this.tick(), 300);
      // The tab holding this lock holds the event stream until its page
      // goes, then the next tab waiting for it. Without Web Locks (an
      // insecure origin) no tab does: the pings alone tell.
      const locks = navigator.locks;
      const hold = (free) => {
        this.free = free;
        this.listen();
      };
      if (locks) locks.request(NAME + "_events" + this.tag, { signal: ac.signal }, () => new Promise(hold)).catch(() => 0);
      // This page load was a request the server counted: other tabs adopt it.
      this.share();
      this.apply();
    }

    share() {
      this.tabs.send({ type: "activity", at: this.last, stamp: this.stamp });
    }

    tick() {
      const t = Date.now();
      // A tick this late means the machine slept: ask at once.
      const slept = t - this.beat > 5000 && D.visibilityState == "visible";
      this.beat = t;
      if (this.cookie() || this.state > UNAVAILABLE) return;
      if (slept) {
        this.wake();
        this.listen(); // a stream across a sleep may be dead unawares
      } else if (t >= this.pingAt) this.ping(this.pingAt);
      this.render(t);
    }

    /** After a change of the shared state: the state, the next ping and the dialog. */
    apply() {
      if (this.state > UNAVAILABLE) return;
      const t = Date.now();
      if (this.state == WARNED && t - this.last < this.warnMs) this.state = ACTIVE;
      // Activity the server has not heard of must reach it by its warning
      // point; once warned, ask just after (not before) the server's expiry.
      const base = this.last > this.stamp + TOLERANCE ? this.stamp : this.last;
      const due = this.state == WARNED ? this.last + this.expireMs + 500 : base + this.warnMs;
      this.pingAt = Math.max(due, this.retryAt);
      this.render(t);
    }

    render(t) {
      const idle = t - this.last;
      const s = this.state;
      // Unavailable: warned on time all the same, with the "connection lost" line.
      const warned = s == WARNED || (s == UNAVAILABLE && idle >= this.warnMs);
      this.warning.render(warned ? Math.max(0, Math.ceil((this.expireMs - idle) / 1000)) : null, s == UNAVAILABLE);
    }

    /**
     * An activity event, at most one a second. While warned, only a
     * deliberate click or tap (not on the dialog's buttons, which do their
     * own work) or a typed character counts: not moving towards "Log out".
     */
    event(e) {
      const t = Date.now();
      const type = e.type;
      const deliberate = type == "pointerdown" || type == "touchstart" ? !e.target.closest("." + NAME + " button") : type == "keydown" && e.key.length == 1 && e.key != " ";
      if ((this.warning.el.open && !deliberate) || t - this.handled < 1000) return;
      this.handled = t;
      // After the event's own work: a key press that dismisses the warning
      // must not land in the field that gets the focus back.
      setTimeout(() => this.act(t));
    }

    /** Activity at `t` in this tab; `keep`: tell the server at once (keepalive). */
    act(t, keep) {
      if (this.state > UNAVAILABLE) return;
      if (t - this.last >= this.expireMs) {
        // Back from a sleep past the expiry: only the server may say it still counts.
        this.pending = t;
      } else {
        this.last = Math.max(this.last, t);
        this.share();
      }
      if (keep) this.send(this.c.keepaliveUrl, "", { method: "POST" });
      else if (this.pending && t >= this.retryAt) this.ping(t);
      this.apply();
    }

    /** "Stay signed in", Escape, or a held submission: a keepalive counts as activity on the server. */
    stay() {
      if (!this.busy && !this.bye) this.act((this.handled = Date.now()), true);
    }

    /** Back from sleep or the background: ask at once, unless a retry delay forbids it. */
    wake() {
      if (Date.now() >= this.retryAt) this.ping(Date.now() - RECENT);
    }

    /** The server's word as of `due` or later: another tab's answer does, else the elected tab asks. */
    async ping(due) {
      if (this.state > UNAVAILABLE || this.busy) return;
      // The latest answer of any tab will do if asked late enough, and aware
      // of this tab's latest activity.
      const fresh = () => {
        const p = this.latest;
        const ok = p && p.started >= due && p.stamp >= this.last - TOLERANCE;
        if (ok) this.take(p);
        return ok;
      };
      if (fresh()) return;
      // Another tab is asking: its answer comes by message; else ask again later.
      this.pingAt = Math.max(Date.now() + 3000, this.retryAt);
      await this.election.run(() => {
        if (fresh()) return Promise.resolve();
        // A wall clock that stepped back would say "active now": the server answers alone.
        const idle = Math.floor((Date.now() - this.last) / 1000);
        return this.send(this.c.pingUrl, idle >= 0 ? "idleFor=" + idle + "&" : "");
      });
    }

    /** A request with the CSRF header (`token`, else the page's), bounded in time, its body included. */
    request(url, init, token) {
      const c = this.c;
      const headers = { Accept: "application/json", [c.csrfHeader]: token || c.csrfToken };
      return fetch(url, Object.assign({ credentials: "same-origin", cache: "no-store", headers, signal: AbortSignal.timeout(TIMEOUT) }, init));
    }

    /** One exchange (ping or keepalive) with the user's tag; its answer goes to every tab. */
    async send(url, query, init) {
      this.busy = true;
      const started = Date.now();
      let result;
      let retry = 0;
      try {
        const r = await this.request(url + "?" + query + "tag=" + encodeURIComponent(this.tag), init);
        // The server's Retry-After (seconds) within the backoff's range:
        // patience if asked, but neither hammering nor hours of waiting.
        const asked = r.headers.get("Retry-After") * 1000;
        retry = asked > 0 ? Math.min(Math.max(asked, RETRY[0]), RETRY[3]) : 0;
        // Only a 401 or "logout" ends the session; a 503 or any other answer
        // leaves `result` undefined: unavailable.
        const b = r.status == 401 ? "logout" : r.ok ? await r.json() : null;
        const n = typeof b == "number" ? b : b && b.idle;
        result = b == "logout" ? b : typeof n == "number" && n >= 0 ? n : undefined;
      } catch (e) {
        // No answer (network error, timeout): unavailable.
      }
      this.busy = false;
      if (this.state > UNAVAILABLE) return;
      const done = Date.now();
      const p = { type: "pong", started, done, result, retry, stamp: done - result * 1000 };
      this.tabs.send(p);
      this.take(p);
    }

    /** An answer, this tab's or another's. */
    take(p) {
      const t = Date.now();
      if (this.state > UNAVAILABLE || p.started < this.floor) return;
      if (p.result == "logout") return this.ended();
      if (p.result === undefined) {
        // Unavailable: the page stays as it is and asks again later.
        this.retryAt = p.done + (p.retry || RETRY[Math.min(++this.fails, 4) - 1]);
        this.state = UNAVAILABLE;
      } else {
        this.latest = p;
        this.fails = this.retryAt = 0;
        this.stamp = Math.max(this.stamp, p.stamp);
        // Activity after the ping left is kept: the server hears of it next time.
        this.last = Math.max(this.last, p.stamp, this.pending);
        if (this.pending) this.share();
        this.pending = 0;
        this.state = t - this.last >= this.warnMs ? WARNED : ACTIVE;
        if (t - this.last < this.expireMs - HOLD) this.forms.release();
      }
      this.apply();
    }

    /**
     * Follows the user cookie: the server sets it to the signed-in user's tag,
     * to "signed-out" at an explicit sign-out, and removes it when a session
     * ends otherwise. Signed out or another user: leave at once. Gone: ask the
     * server once, its answer decides. Acts on changes only, unless `force`;
     * returns whether the page is being left.
     */
    cookie(force) {
      const c = this.c;
      if (!c.userCookie || this.state == STOPPED) return;
      const v = (("; " + D.cookie).split("; " + c.userCookie + "=")[1] || "").split(";")[0];
      if (v == this.seen && !force) return;
      const out = v == "signed-out";
      if (out || (v && v != this.tag)) {
        // A form this tab has just sent (the sign-out or sign-in itself,
        // perhaps) navigates first. Another user: a locked page goes where a
        // relogin as them would.
        return Date.now() - this.forms.sent < 3000 || this.leave(!out && this.state == EXPIRED ? "/" : c.loginUrl) || 1;
      }
      this.seen = v;
      if (!v && !force) this.ping(Date.now() - RECENT);
    }

    /** The server says the session is over: expired (locked, or left without relogin), or signed out. */
    ended() {
      const c = this.c;
      if (this.cookie(true)) return;
      if (this.bye || !this.relogin) return this.leave((!this.bye && c.afterLogoutUrl) || c.loginUrl);
      this.state = EXPIRED;
      this.pending = 0;
      this.warning.render(null);
      this.lock.take(this.relogin.title);
      this.relogin.show();
      this.listen(); // closes the stream, until a relogin
    }

    /** "Log out": ends the session on the server; every tab of this user leaves. */
    async logout() {
      if (this.state > UNAVAILABLE || this.bye) return;
      this.bye = true; // an answer "logout" meanwhile is this sign-out
      try {
        const r = await this.request(this.c.logoutUrl, { method: "POST" });
        if (r.ok || r.status == 401) {
          this.tabs.send({ type: "out" });
          return this.leave(this.c.loginUrl);
        }
      } catch (e) {
        // Unavailable: still signed in, the page stays.
      }
      this.bye = false;
    }

    /** Leaves for `url` (reloads without one), discarding the page first. */
    leave(url) {
      this.lock.take("");
      this.lock.drop();
      this.stop();
      if (url) location.replace(url);
      else location.reload();
    }

    /**
     * (Re)opens the event stream, in the tab holding it while the session
     * lives. The browser reconnects by itself after a network error; a
     * failed connection (a 503, say) closes it for good: made again after
     * the backoff of the pings. A stream error is never a logout.
     */
    listen() {
      clearTimeout(this.retryStream);
      if (this.es) this.es.close();
      if (!this.free || this.state > UNAVAILABLE) return;
      const es = (this.es = new EventSource(this.c.pingUrl.slice(0, -4) + "events?tag=" + encodeURIComponent(this.tag)));
      const later = () => {
        es.close();
        this.retryStream = setTimeout(() => this.listen(), RETRY[Math.min(this.drops++, 3)]);
      };
      es.onopen = () => (this.drops = 0);
      es.onerror = () => es.readyState == 2 && later();
      this.on(es, "ended", (e) => {
        // Closed by the server; back later if the session lives after all.
        later();
        this.tabs.send({ type: "ended", how: e.data });
        this.pushed(e.data);
      });
    }

    /** The stream's word, this tab's or relayed: expired (the ping decides), or signed out elsewhere. */
    pushed(how) {
      if (how == "expired") this.ping(Date.now());
      else Date.now() - this.forms.sent < 3000 || this.leave(this.c.loginUrl);
    }

    /** Only our own relogin frame, on our origin, while locked, may say who logged in. */
    message(e) {
      const m = e.data || {};
      if (e.origin != location.origin || this.state != EXPIRED || e.source != this.relogin.frame.contentWindow) return;
      // The same user if the tags match, unless the server says the backup was another's.
      if (m.type == NAME + ":relogin") this.relogged(m.sameUser !== false && !!this.tag && m.userTag === this.tag, m.csrfToken, true);
    }

    /**
     * After a login in the relogin dialog of any tab. The same user carries on
     * with the page as it was, with the new CSRF token; for another user
     * nothing of it may be shown again.
     */
    relogged(same, token, tell) {
      if (!same) return this.leave("/");
      if (tell) this.tabs.send({ type: "relogin", token });
      if (this.relogin) this.relogin.hide();
      this.lock.give();
      if (token) {
        // Every CSRF field and <meta name="csrf-token"> of the page.
        this.c.csrfToken = token;
        const field = CSS.escape(this.c.csrfField);
        for (const el of D.querySelectorAll('input[name="' + field + '"],meta[name="csrf-token"]')) {
          el[el.tagName == "META" ? "content" : "value"] = token;
        }
      }
      this.state = ACTIVE;
      this.floor = this.last = this.stamp = Date.now();
      this.fails = this.retryAt = this.pending = 0;
      this.latest = this.bye = null;
      this.apply();
      this.forms.release();
      this.listen();
    }

    /**
     * Another tab's relogin, with the new CSRF token. A live page takes it
     * as it comes; a locked one comes back only if the server confirms it:
     * a keepalive with that token answers the timing for a live session of
     * this user whose token it is, and nothing else. A forged message (any
     * script of the origin can post one) leaves the page locked, and there.
     */
    async confirm(token) {
      if (this.state < EXPIRED) return this.relogged(true, token);
      try {
        const r = await this.request(this.c.keepaliveUrl + "?tag=" + encodeURIComponent(this.tag), { method: "POST" }, token);
        const b = r.ok && (await r.json());
        if (b && b.idle >= 0 && this.state == EXPIRED) this.relogged(true, token);
      } catch (e) {
        // No answer: still locked; the dialog's own login will do.
      }
    }

    receive(m) {
      const type = m.type;
      if (type == "pong") this.take(m);
      else if (type == "relogin") this.confirm(m.token);
      else if (type == "out") this.leave(this.c.loginUrl);
      else if (type == "ended") this.pushed(m.how);
      else if (m.at <= Date.now() + 5000) {
        // Activity in another tab, whose clock is ours, give or take.
        this.last = Math.max(this.last, m.at);
        this.stamp = Math.max(this.stamp, m.stamp);
        this.apply();
      }
    }

    /** Every timer, listener, tab message and stream of this page ends; the page stays as it is. */
    stop() {
      if (this.state == STOPPED) return;
      this.warning.render(null);
      this.state = STOPPED;
      this.ac.abort();
      clearInterval(this.timer);
      if (this.tabs.bc) this.tabs.bc.close();
      if (this.free) this.free();
      this.listen(); // closes the stream
    }
  }

  const start = () => {
    const el = $("config");
    const c = el && store(() => JSON.parse(el.textContent));
    if (W.sessionSecurity || !el) return;
    if (!c || !(c.warnAfter > 0 && c.expireAfter > c.warnAfter)) return console.error(NAME + ": invalid configuration");
    const client = new Client(c);
    W.sessionSecurity = Object.freeze({
      /** Records activity now, as a click or a key press would, for every tab. */
      activity: () => client.act(Date.now()),
      /** Asks the server at once; resolves once the answer is applied. */
      ping: () => client.ping(Date.now()),
      /** Stops every timer, listener, tab message and stream; the page stays as it is. */
      stop: () => client.stop(),
    });
  };
  if (D.readyState == "loading") D.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
