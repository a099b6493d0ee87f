/* An import's page follows its running job (dry run or import) and shows the outcome by
   reloading the page once the job has ended. */
(function () {
  "use strict";
  var panels = document.querySelectorAll(".import-job[data-status-url]");
  Array.prototype.forEach.call(panels, function (panel) {
    var statusEl = panel.querySelector(".job-status");
    var bar = panel.querySelector("progress");
    var text = panel.querySelector(".job-progress-text");

    var t = window.t;
    var STATES = { queued: t("waiting for a worker"), running: t("running"), succeeded: t("done"), failed: t("failed") };

    function render(job) {
      statusEl.textContent = STATES[job.status] || job.status;
      var p = job.progress;
      if (job.status === "running" && p.total) {
        bar.max = p.total;
        bar.value = Math.min(p.done, p.total);
        text.textContent = t("%(percent)s%% read", { percent: p.percent });
      } else if (job.status === "running") {
        text.textContent = t("Reading the file.");
      }
      return job.status === "succeeded" || job.status === "failed";
    }

    function poll() {
      fetch(panel.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (job) {
          if (job && render(job)) { window.location.reload(); return; }
          window.setTimeout(poll, 1000);
        }, function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 500);
  });
})();
