/* An import's page follows its running job (dry run or import) and shows the outcome by
   reloading the page once the job has ended. */
(function () {
  "use strict";
  var panels = document.querySelectorAll(".import-job[data-status-url]");
  Array.prototype.forEach.call(panels, function (panel) {
    var statusEl = panel.querySelector(".job-status");
    var bar = panel.querySelector("progress");
    var text = panel.querySelector(".job-progress-text");

    function render(job) {
      statusEl.textContent = job.status;
      var p = job.progress;
      if (p.total) {
        bar.max = p.total;
        bar.value = Math.min(p.done, p.total);
        text.textContent = "row " + p.done.toLocaleString() + " of " + p.total.toLocaleString() + " (" + p.percent + "%)";
      } else if (job.status === "running") {
        text.textContent = "reading the file";
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
