/* A job's page follows its progress while it waits or runs, and shows the outcome (written
 * in words by the server) by reloading once the job has ended. */
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root || (root.dataset.status !== "queued" && root.dataset.status !== "running")) { return; }
  var statusEl = document.getElementById("job-status");
  var bar = document.getElementById("job-progress");
  var text = document.getElementById("job-progress-text");

  function render(job) {
    if (job.status === "succeeded" || job.status === "failed") { return true; }
    var p = job.progress;
    if (job.status === "running") {
      statusEl.textContent = p.total ? window.t("running, %(percent)s%% done", { percent: p.percent }) : window.t("running");
      if (p.total) {
        bar.max = p.total;
        bar.value = Math.min(p.done, p.total);
        text.textContent = window.t("%(percent)s%% done. This page follows it.", { percent: p.percent });
      }
    }
    return false;
  }

  function poll() {
    fetch(root.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (job && render(job)) { window.location.reload(); return; }
        window.setTimeout(poll, 1000);
      }, function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
