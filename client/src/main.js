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
 * This is the readable source; client/build bundles and minifies it into
 * static/session_security/script.js, the file the crate serves.
 */

import * as client from "./client.js";
import { NAME, attempt, element } from "./page.js";

/** Starts the client once the document is parsed: the config and dialogs come after the script. */
function start() {
  const el = element("config");
  if (window.sessionSecurity || !el) return;
  const config = attempt(() => JSON.parse(el.textContent));
  if (!config || !(config.warnAfter > 0 && config.expireAfter > config.warnAfter)) {
    return console.error(NAME + ": invalid configuration");
  }
  client.start(config);
  window.sessionSecurity = Object.freeze({
    /** Records activity now, as a click or a key press would, for every tab. */
    activity: () => client.activity(),
    /** Asks the server at once; resolves once the answer is applied. */
    ping: () => client.ping(Date.now()).then(() => {}),
    /** Stops every timer, listener, tab message and stream; the page stays as it is. */
    stop: () => client.stop(),
  });
}

/** One client per page, and none in a frame of a page that runs one (the relogin frame). */
function main() {
  if (window.sessionSecurity) return;
  try {
    if (parent != window && parent.sessionSecurity) return;
  } catch (e) {
    // A cross-origin parent: this page runs its own client.
  }
  if (document.readyState == "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
}

main();
