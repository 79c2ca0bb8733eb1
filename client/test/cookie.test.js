import { test } from "node:test";
import assert from "node:assert/strict";
import { cookieNews, cookieValue } from "../src/cookie.js";

test("the value of one cookie among others, or empty", () => {
  const cookies = "a=1; session_security_user=t1; b=2";
  assert.equal(cookieValue(cookies, "session_security_user"), "t1");
  assert.equal(cookieValue("session_security_user=t1", "session_security_user"), "t1");
  assert.equal(cookieValue("x_session_security_user=t2", "session_security_user"), "");
  assert.equal(cookieValue("", "session_security_user"), "");
});

test("an unchanged cookie says nothing, unless asked", () => {
  assert.equal(cookieNews("t1", "t1", "t1", false), "unchanged");
  assert.equal(cookieNews("t1", "t1", "t1", true), "same");
});

test("signed out, another user, the same, or gone", () => {
  assert.equal(cookieNews("signed-out", "t1", "t1", false), "signed-out");
  assert.equal(cookieNews("t2", "t1", "t1", false), "other-user");
  assert.equal(cookieNews("t1", "", "t1", false), "same");
  assert.equal(cookieNews("", "t1", "t1", false), "gone");
});
