// Runs inside the relogin frame once the login succeeded: tells the page
// that opened the dialog (same origin only) whether the same user is back.
(function () {
  "use strict";
  var element = document.getElementById("session_security_relogin_result");
  if (!element) return;
  var message = JSON.parse(element.textContent);
  var framed = window.parent && window.parent !== window;
  if (framed) {
    // Target origin pinned to ours: no other site can read the new token.
    window.parent.postMessage(message, window.location.origin);
  } else {
    // Opened on its own (no dialog to return to): go to the start page.
    window.location.replace("/");
  }
})();
