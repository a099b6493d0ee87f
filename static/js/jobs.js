/* A job's page follows its progress until it ends. */
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root) { return; }
  var statusEl = document.getElementById("job-status");
  var bar = document.getElementById("job-progress");
  var text = document.getElementById("job-progress-text");
  var errorEl = document.getElementById("job-error");
  var resultEl = document.getElementById("job-result");

  function render(job) {
    statusEl.textContent = job.status;
    var p = job.progress;
    if (p.total) {
      bar.max = p.total;
      bar.value = p.done;
      text.textContent = p.done + " of " + p.total + " (" + p.percent + "%)";
    }
    if (job.status === "succeeded" || job.status === "failed") {
      if (!p.total) { bar.max = 1; bar.value = 1; }
      if (job.error) { errorEl.textContent = job.error; errorEl.classList.remove("d-none"); }
      if (job.result) { resultEl.textContent = JSON.stringify(job.result, null, 2); resultEl.classList.remove("d-none"); }
      return true;
    }
    return false;
  }

  function poll() {
    fetch(root.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (job && render(job)) { return; }
        window.setTimeout(poll, 1000);
      }, function () { window.setTimeout(poll, 3000); });
  }
  if (statusEl.textContent !== "succeeded" && statusEl.textContent !== "failed") { poll(); }
})();
