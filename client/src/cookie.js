/**
 * The user cookie (script-readable, no secret in it): the server sets it to
 * the signed-in user's tag, to "signed-out" at an explicit sign-out, and
 * removes it when a session ends otherwise.
 */

/** The value of the cookie `name` in `document.cookie`'s `cookies`, or "". */
export const cookieValue = (cookies, name) => (("; " + cookies).split("; " + name + "=")[1] || "").split(";")[0];

/**
 * What a read of the user cookie tells, given the value `seen` at the last
 * read and this page's user `tag`: "unchanged" (and so nothing, unless
 * `force`), "signed-out", "other-user" (another user signed in: leave),
 * "same" (this user), or "gone" (the session ended some other way: the
 * server decides).
 */
export function cookieNews(value, seen, tag, force) {
  if (value == seen && !force) return "unchanged";
  if (value == "signed-out") return "signed-out";
  if (value && value != tag) return "other-user";
  return value ? "same" : "gone";
}
