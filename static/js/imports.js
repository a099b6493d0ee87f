/* An import's page follows its running job (dry run or import) and shows the outcome by
   reloading the page once the job has ended. */
(function () {
  "use strict";
  var panels = document.querySelectorAll(".import-job[data-status-url]");
  Array.prototype.forEach.call(panels, function (panel) {
    var statusEl = panel.querySelector(".job-status");
    var bar = panel.querySelector("progress");
    var text = panel.querySelector(".job-progress-text");

    var STATES = { queued: "waiting for a worker", running: "running", succeeded: "done", failed: "failed" };

    function render(job) {
      statusEl.textContent = STATES[job.status] || job.status;
      var p = job.progress;
      if (job.status === "running" && p.total) {
        bar.max = p.total;
        bar.value = Math.min(p.done, p.total);
        text.textContent = p.percent + "% read";
      } else if (job.status === "running") {
        text.textContent = "Reading the file.";
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
