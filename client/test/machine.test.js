import { test } from "node:test";
import assert from "node:assert/strict";
import { ASKING, HOLDING, QUIET, SIGNING_OUT, initialModel, transition } from "../src/machine.js";
import { ACTIVE, EXPIRED, STOPPED, UNAVAILABLE, WARNED } from "../src/schedule.js";

const rules = { warnMs: 60_000, expireMs: 120_000, relogin: true };
const T = 1_700_000_000_000;

/** Runs `events` ([event, at]) from the model of a page loaded at T; the last step's model and effects. */
function run(events, { model = initialModel(0, T), rulesFor = rules } = {}) {
  let step = { model, effects: [] };
  for (const [event, now] of events) step = transition(step.model, event, rulesFor, now);
  return step;
}
const types = (effects) => effects.map((effect) => effect.type);
const answer = (started, result, done = started + 50) => ({ type: "pong", started, done, result, retry: 0, stamp: done - result * 1000 });

test("a page starts active, tells the other tabs and pings at the warning point", () => {
  const { model, effects } = transition(initialModel(10, T), { type: "start" }, rules, T);
  assert.equal(model.phase, ACTIVE);
  assert.equal(model.last, T - 10_000, "the page load came 10 s after the last activity");
  assert.equal(model.pingAt, T + 50_000);
  assert.deepEqual(types(effects), ["share"]);
});

test("activity moves the ping and is shared", () => {
  const { model, effects } = run([[{ type: "activity", at: T + 5_000 }, T + 5_000]]);
  assert.equal(model.last, T + 5_000);
  assert.deepEqual(types(effects), ["share"]);
  // The server heard of T only: it must hear of T + 5 s by its own warning point.
  assert.equal(model.pingAt, T + 60_000);
});

test("a due ping elects a tab, and the elected tab asks with the idle seconds", () => {
  const asked = run([[{ type: "ping", due: T + 60_000 }, T + 60_000]]);
  assert.deepEqual(asked.effects, [{ type: "elect", due: T + 60_000 }]);
  assert.equal(asked.model.pingAt, T + 63_000, "asked again later if nobody answers");
  const elected = transition(asked.model, { type: "elected", due: T + 60_000 }, rules, T + 60_010);
  assert.deepEqual(elected.effects, [{ type: "ask", idleFor: 60 }]);
  assert.equal(elected.model.exchange, ASKING);
  // No second exchange while one is on its way.
  assert.deepEqual(transition(elected.model, { type: "ping", due: T + 60_020 }, rules, T + 60_020).effects, []);
});

test("the server's idle time past warnAfter warns, its answer goes to the other tabs", () => {
  const pong = answer(T + 60_000, 60);
  const { model, effects } = run([
    [{ type: "elected", due: T + 60_000 }, T + 60_000],
    [{ type: "answer", answer: pong, own: true }, T + 60_050],
  ]);
  assert.equal(model.phase, WARNED);
  assert.equal(model.exchange, QUIET);
  assert.deepEqual(effects, [{ type: "tell", answer: pong }, { type: "release" }]);
  assert.equal(model.last, T + 50, "the server's last activity");
  assert.equal(model.pingAt, T + 120_550, "next: just after the expiry");
});

test("another tab's fresh answer does for a ping: no request", () => {
  const pong = answer(T + 60_000, 60);
  const { model, effects } = run([
    [{ type: "answer", answer: pong }, T + 60_050],
    [{ type: "ping", due: T + 60_000 }, T + 60_100],
  ]);
  assert.equal(model.phase, WARNED);
  assert.deepEqual(types(effects), ["release"], "no election, no request");
});

test("activity while warned hides the warning and is shared; the server hears of it at once", () => {
  const warned = run([[{ type: "answer", answer: answer(T + 60_000, 60) }, T + 60_050]]).model;
  const { model, effects } = transition(warned, { type: "activity", at: T + 70_000 }, rules, T + 70_000);
  assert.equal(model.phase, ACTIVE);
  assert.deepEqual(types(effects), ["share"]);
  // The server's own warning point (its last activity + warnAfter) has passed.
  assert.equal(model.pingAt, T + 60_050);
});

test("another tab's activity counts, unless it comes from too far in the future", () => {
  const shared = run([[{ type: "tabActivity", at: T + 20_000, stamp: T }, T + 20_100]]).model;
  assert.equal(shared.last, T + 20_000);
  const future = run([[{ type: "tabActivity", at: T + 30_000, stamp: T }, T + 20_000]]).model;
  assert.equal(future.last, T);
});

test("a 503 or no answer is unavailable: the page stays and retries with backoff", () => {
  const failed = (n) => answer(T + n, undefined, T + n + 10);
  let step = run([[{ type: "answer", answer: failed(60_000) }, T + 60_010]]);
  assert.equal(step.model.phase, UNAVAILABLE);
  assert.equal(step.model.retryAt, T + 62_010);
  step = transition(step.model, { type: "answer", answer: failed(62_010) }, rules, T + 62_030);
  assert.equal(step.model.retryAt, T + 62_020 + 5_000);
  assert.equal(step.model.fails, 2);
  assert.deepEqual(types(step.effects), [], "never a logout");
  step = transition(step.model, { type: "answer", answer: answer(T + 70_000, 70) }, rules, T + 70_050);
  assert.equal(step.model.phase, WARNED);
  assert.equal(step.model.fails, 0);
  assert.equal(step.model.retryAt, 0);
});

test("a server's Retry-After wins over the backoff", () => {
  const pong = { ...answer(T + 60_000, undefined, T + 60_010), retry: 7_000 };
  assert.equal(run([[{ type: "answer", answer: pong }, T + 60_010]]).model.retryAt, T + 67_010);
});

test("answers asked before this page (or its relogin) are of another session", () => {
  const { model, effects } = run([[{ type: "answer", answer: answer(T - 1, "logout") }, T + 10]]);
  assert.equal(model.phase, ACTIVE);
  assert.deepEqual(effects, []);
});

test("logout: the user cookie decides first, then the page locks behind the relogin", () => {
  const ended = run([[{ type: "answer", answer: answer(T + 120_500, "logout") }, T + 120_600]]);
  assert.deepEqual(types(ended.effects), ["ended"]);
  const { model, effects } = transition(ended.model, { type: "expire" }, rules, T + 120_600);
  assert.equal(model.phase, EXPIRED);
  assert.deepEqual(types(effects), ["lock"]);
  // Locked: nothing more happens until a relogin.
  assert.deepEqual(transition(model, { type: "activity", at: T + 121_000 }, rules, T + 121_000).effects, []);
  assert.deepEqual(transition(model, { type: "ping", due: T + 121_000 }, rules, T + 121_000).effects, []);
});

test("without relogin an expired page leaves", () => {
  const { effects } = run([[{ type: "expire" }, T + 120_600]], { rulesFor: { ...rules, relogin: false } });
  assert.deepEqual(types(effects), ["leaveExpired"]);
});

test("a logout answer during this tab's sign-out is that sign-out", () => {
  const { model, effects } = run([
    [{ type: "logout" }, T + 70_000],
    [{ type: "expire" }, T + 70_100],
  ]);
  assert.equal(model.exchange, SIGNING_OUT);
  assert.deepEqual(effects, [{ type: "signedOut", reason: "logout" }]);
});

test("a failed sign-out leaves the page signed in, and a second click signs out again", () => {
  const signingOut = run([[{ type: "logout" }, T + 70_000]]);
  assert.deepEqual(types(signingOut.effects), ["signOut"]);
  assert.deepEqual(transition(signingOut.model, { type: "logout" }, rules, T + 70_001).effects, [], "once");
  const failed = transition(signingOut.model, { type: "signOutFailed" }, rules, T + 71_000);
  assert.equal(failed.model.exchange, QUIET);
  assert.deepEqual(types(transition(failed.model, { type: "logout" }, rules, T + 72_000).effects), ["signOut"]);
});

test("'stay signed in' sends one keepalive at a time", () => {
  const stayed = run([[{ type: "stay", at: T + 70_000 }, T + 70_000]]);
  assert.deepEqual(types(stayed.effects), ["share", "keepalive"]);
  assert.equal(stayed.model.exchange, ASKING);
  assert.deepEqual(transition(stayed.model, { type: "stay", at: T + 70_500 }, rules, T + 70_500).effects, []);
});

test("activity past the expiry (back from a sleep) waits for the server's word and asks at once", () => {
  const { model, effects } = run([[{ type: "activity", at: T + 200_000 }, T + 200_000]]);
  assert.equal(model.last, T, "not counted yet");
  assert.equal(model.unconfirmed, T + 200_000);
  assert.deepEqual(effects, [{ type: "elect", due: T + 200_000 }]);
  // The server says the session lives (its idle time is small): the activity counts and is shared.
  const alive = transition(model, { type: "answer", answer: answer(T + 200_000, 0) }, rules, T + 200_100);
  assert.equal(alive.model.last, T + 200_050);
  assert.equal(alive.model.unconfirmed, 0);
  assert.deepEqual(types(alive.effects), ["share", "release"]);
});

test("held submissions go once the server says the session lives, not near the expiry", () => {
  const early = run([[{ type: "answer", answer: answer(T + 10_000, 10) }, T + 10_050]]);
  assert.deepEqual(types(early.effects), ["release"]);
  const late = run([[{ type: "answer", answer: answer(T + 118_000, 118) }, T + 118_050]]);
  assert.deepEqual(types(late.effects), []);
});

test("the same user's relogin restores the page as a new session; another user's leaves", () => {
  const locked = run([[{ type: "expire" }, T + 120_600]]).model;
  const same = transition(locked, { type: "relogged", sameUser: true, token: "new", tell: true }, rules, T + 130_000);
  assert.equal(same.model.phase, ACTIVE);
  assert.equal(same.model.last, T + 130_000);
  assert.equal(same.model.floor, T + 130_000);
  assert.deepEqual(same.effects, [{ type: "restore", token: "new", tell: true }, { type: "release" }, { type: "listen" }]);
  const other = transition(locked, { type: "relogged", sameUser: false }, rules, T + 130_000);
  assert.equal(other.model.phase, EXPIRED);
  assert.deepEqual(types(other.effects), ["leaveForOtherUser"]);
});

test("the event stream is held once granted, and closed with the page", () => {
  const held = run([[{ type: "streamHeld" }, T]]);
  assert.equal(held.model.stream, HOLDING);
  assert.deepEqual(types(held.effects), ["listen"]);
  const stopped = transition(held.model, { type: "stop" }, rules, T + 1);
  assert.equal(stopped.model.phase, STOPPED);
  assert.deepEqual(types(stopped.effects), ["teardown"]);
  assert.deepEqual(transition(stopped.model, { type: "stop" }, rules, T + 2).effects, [], "once");
});

test("transition never changes the model it is given", () => {
  const model = initialModel(0, T);
  const copy = structuredClone(model);
  transition(model, { type: "activity", at: T + 1_000 }, rules, T + 1_000);
  transition(model, { type: "answer", answer: answer(T + 1, 60) }, rules, T + 100);
  assert.deepEqual(model, copy);
});
