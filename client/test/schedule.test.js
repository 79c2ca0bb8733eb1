import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ACTIVE, WARNED, UNAVAILABLE, EXPIRED, STOPPED, BACKOFF,
  answerMeaning, announcement, backoff, isDeliberate, isFresh, isLive, maySubmit, pingDue, retryDelay, warningView,
} from "../src/schedule.js";

const rules = { warnMs: 60_000, expireMs: 120_000 };
const T = 1_700_000_000_000;
const model = (fields) => ({ phase: ACTIVE, last: T, stamp: T, retryAt: 0, ...fields });

test("the first three phases are live, expired and stopped are not", () => {
  assert.deepEqual([ACTIVE, WARNED, UNAVAILABLE, EXPIRED, STOPPED].map((phase) => isLive({ phase })), [true, true, true, false, false]);
});

test("an active tab pings at the warning point of its last activity", () => {
  assert.equal(pingDue(model({}), rules), T + 60_000);
});

test("activity the server has not heard of is reported by the server's warning point", () => {
  // Active 30 s after the server's last word: the ping still goes when the server would warn.
  assert.equal(pingDue(model({ last: T + 30_000 }), rules), T + 60_000);
  // Within the tolerance (the server counts whole seconds), the tab's own time counts.
  assert.equal(pingDue(model({ last: T + 1_000 }), rules), T + 61_000);
});

test("a warned tab asks just after the expiry, not before", () => {
  assert.equal(pingDue(model({ phase: WARNED }), rules), T + 120_500);
});

test("no ping before a retry delay ends", () => {
  assert.equal(pingDue(model({ retryAt: T + 90_000 }), rules), T + 90_000);
});

test("no warning while active, whatever the time", () => {
  assert.equal(warningView(model({}), rules, T + 100_000), null);
});

test("a warned tab counts the real seconds left, rounded up, never below zero", () => {
  const warned = model({ phase: WARNED });
  assert.deepEqual(warningView(warned, rules, T + 60_000), { secondsLeft: 60, unavailable: false });
  assert.deepEqual(warningView(warned, rules, T + 60_001), { secondsLeft: 60, unavailable: false });
  assert.deepEqual(warningView(warned, rules, T + 119_001), { secondsLeft: 1, unavailable: false });
  assert.deepEqual(warningView(warned, rules, T + 130_000), { secondsLeft: 0, unavailable: false });
});

test("an unavailable server does not delay the warning: it comes on time with the connection line", () => {
  const unavailable = model({ phase: UNAVAILABLE });
  assert.equal(warningView(unavailable, rules, T + 59_999), null);
  assert.deepEqual(warningView(unavailable, rules, T + 60_000), { secondsLeft: 60, unavailable: true });
});

test("expired and stopped pages show no warning", () => {
  assert.equal(warningView(model({ phase: EXPIRED }), rules, T + 100_000), null);
  assert.equal(warningView(model({ phase: STOPPED }), rules, T + 100_000), null);
});

test("an answer does for a ping if asked late enough and aware of the latest activity", () => {
  const answer = { started: T + 10_000, stamp: T };
  assert.equal(isFresh(answer, T + 10_000, T), true);
  assert.equal(isFresh(answer, T + 10_001, T), false, "asked too early");
  assert.equal(isFresh(answer, T, T + 1_500), true, "within the tolerance");
  assert.equal(isFresh(answer, T, T + 1_501), false, "activity the server has not heard of");
  assert.equal(isFresh(null, T, T), false);
});

test("a 401 or the word logout ends the session", () => {
  assert.equal(answerMeaning(401, null), "logout");
  assert.equal(answerMeaning(200, "logout"), "logout");
});

test("the idle seconds come as a number (ping) or an object (keepalive)", () => {
  assert.equal(answerMeaning(200, 42), 42);
  assert.equal(answerMeaning(200, { idle: 0, authenticated: true }), 0);
});

test("anything else is unavailable, never a logout", () => {
  for (const [status, body] of [[503, null], [500, null], [200, null], [200, "yes"], [200, -1], [200, {}], [403, null], [200, { idle: "3" }]]) {
    assert.equal(answerMeaning(status, body), undefined, `${status} ${JSON.stringify(body)}`);
  }
});

test("Retry-After is taken within the backoff's range", () => {
  assert.equal(retryDelay(null), 0);
  assert.equal(retryDelay("0"), 0);
  assert.equal(retryDelay("soon"), 0);
  assert.equal(retryDelay("1"), BACKOFF[0]);
  assert.equal(retryDelay("7"), 7_000);
  assert.equal(retryDelay("3600"), BACKOFF[BACKOFF.length - 1]);
});

test("the backoff grows with the failures in a row, then stays", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 50].map(backoff), [2_000, 5_000, 10_000, 30_000, 30_000, 30_000]);
});

test("a submission is held from two seconds before the expiry", () => {
  assert.equal(maySubmit(model({}), rules, T + 117_999), true);
  assert.equal(maySubmit(model({}), rules, T + 118_000), false);
});

test("while warned, clicks, taps and typed characters count, not moves, spaces or the dialog's buttons", () => {
  const no = () => false;
  const yes = () => true;
  assert.equal(isDeliberate("pointerdown", undefined, no), true);
  assert.equal(isDeliberate("touchstart", undefined, no), true);
  assert.equal(isDeliberate("pointerdown", undefined, yes), false);
  assert.equal(isDeliberate("keydown", "a", no), true);
  assert.equal(isDeliberate("keydown", " ", no), false);
  assert.equal(isDeliberate("keydown", "Tab", no), false);
  assert.equal(isDeliberate("keydown", undefined, no), false);
  for (const type of ["pointermove", "wheel", "scroll", "touchmove"]) assert.equal(isDeliberate(type, undefined, no), false, type);
});

test("screen readers hear whole minutes, then every 20 seconds", () => {
  assert.deepEqual(announcement(150), { step: -3, minutes: 3 });
  assert.deepEqual(announcement(41), { step: -1, minutes: 1 });
  assert.deepEqual(announcement(40), { step: 2, minutes: 0 });
  assert.deepEqual(announcement(21), { step: 2, minutes: 0 });
  assert.deepEqual(announcement(20), { step: 1, minutes: 0 });
});
