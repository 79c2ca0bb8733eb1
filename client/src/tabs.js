/** What the tabs of one browser share: messages, and the election of the tab that pings. */

import { NAME, attempt, load, save, remove, sleep } from "./page.js";
import { TIMEOUT } from "./schedule.js";

/** This tab, among the others. */
export const tabId = Math.random().toString(36).slice(2);

let tag;
let channel = null;

/**
 * Messages between the tabs of this browser: BroadcastChannel, or storage
 * events where it is missing. Each carries the user's tag (`userTag`); a
 * tab ignores those of another user. Any script of the origin can post one:
 * nothing in them may uncover a locked page without the server's word.
 * `on`: the client's addEventListener; `receive(message)` gets the others'.
 */
export function openTabs(userTag, on, receive) {
  tag = userTag;
  const take = (m) => m && m.from != tabId && m.tag === tag && receive(m);
  try {
    channel = new BroadcastChannel(NAME);
    on(channel, "message", (e) => take(e.data));
  } catch (e) {
    on(window, "storage", (e) => e.key == NAME && take(attempt(() => JSON.parse(e.newValue))));
  }
}

/** Sends `message` (an object with a `type`) to the other tabs of this user. */
export function tellTabs(message) {
  message.from = tabId;
  message.tag = tag;
  if (channel) return channel.postMessage(message);
  // The storage event reaches the other tabs; removed at once (so the next
  // one is a change too), tokens stay off the disk.
  if (save(NAME, message)) remove(NAME);
}

export function closeTabs() {
  if (channel) channel.close();
}

/**
 * Elects the one tab that pings, so that pings do not grow with tabs: Web
 * Locks, or a short lease in localStorage where they are missing (an
 * insecure origin). `name`: one lock per user. Runs `task` (returns a
 * promise) if this tab wins; resolves to whether it ran.
 */
export function runIfElected(name, task) {
  let won = false;
  const go = () => {
    won = true;
    // Held past the answer a little, so that it reaches the other tabs
    // first; never past a lease, whatever the task waits for.
    return Promise.race([task().then(() => sleep(100)), sleep(TIMEOUT + 2000)]);
  };
  const locks = navigator.locks;
  const elected = locks ? locks.request(name, { ifAvailable: true }, (lock) => lock && go()) : Promise.reject();
  return elected.catch(() => won || lease(name, go)).then(() => won);
}

async function lease(key, go) {
  const mine = () => (load(key) || {}).id == tabId;
  const held = load(key);
  if (held && !mine() && Date.now() - held.at < TIMEOUT + 2000) return;
  if (!save(key, { id: tabId, at: Date.now() })) return go(); // no storage: alone
  await sleep(25 + Math.random() * 50); // the last writer wins
  if (!mine()) return;
  try {
    await go();
  } finally {
    if (mine()) remove(key);
  }
}
