/* On every page: logging out while the station still holds unsent scans asks first. */
(function () {
  "use strict";
  var form = document.getElementById("logout-form");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    var waiting = 0;
    try { waiting = parseInt(window.localStorage.getItem("tracetrack.waiting") || "0", 10); } catch (e) { waiting = 0; }
    if (waiting > 0 && !window.confirm(window.t("%(count)s scans are still waiting to be sent from this device. They are kept and sent after you log in again. Log out anyway?", { count: waiting }))) {
      event.preventDefault();
    }
  });
})();
