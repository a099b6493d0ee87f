/* TraceTrack supervisor dashboard.
 *
 * The page arrives with every figure rendered by the server. This script redraws them from
 * GET /api/v1/dashboard/stats and /activity every few seconds without reloading, pauses
 * while the tab is hidden, and says plainly when the figures are stale because the server
 * could not be reached. Everything is written with textContent: no HTML from data, and no
 * inline styles (the CSP forbids them; Chart.js sizes its canvas through the CSSOM).
 */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  if (!root) { return; }

  var config = {
    statsUrl: root.dataset.statsUrl,
    activityUrl: root.dataset.activityUrl,
    bagUrl: root.dataset.bagUrl,
    loginUrl: root.dataset.loginUrl,
    importsUrl: root.dataset.importsUrl,
    refreshMs: Math.max(1, parseInt(root.dataset.refreshSeconds, 10) || 10) * 1000,
    timeoutMs: 8000
  };
  var updatedEl = document.getElementById("updated-at");
  var banner = document.getElementById("stale-banner");
  var lastGeneratedAt = root.dataset.generatedAt;
  var timer = null;
  var inFlight = false;

  // ---- formatting ---------------------------------------------------------------------
  // Times arrive as ISO 8601; times.js shows them as every page does (APP_TIMEZONE,
  // "3 min ago" when recent, the exact time on hover or tap).
  var times = window.tracetrackTime;

  function timeNode(iso, className) {
    var node = times.element(iso);
    if (className) { node.className = className; }
    return node;
  }

  var t = window.t;
  // Indian grouping (1,00,000) for Hindi, as the server writes it; Latin digits always.
  var numberFormat = new Intl.NumberFormat(document.documentElement.lang === "hi" ? "en-IN" : "en-US");
  function number(value) { return numberFormat.format(Number(value)); }

  function bagUrl(code) { return config.bagUrl.replace("__CODE__", encodeURIComponent(code)); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function labelled(cell, label) { cell.dataset.label = label; return cell; }  // stacked on phones

  function bagLink(code) {
    if (!code) { return el("span", "", t("(no code)")); }
    var link = el("a", "font-monospace", code);
    link.href = bagUrl(code);
    return link;
  }

  function replaceChildren(parent, nodes, emptyNode) {
    while (parent.firstChild) { parent.removeChild(parent.firstChild); }
    if (!nodes.length && emptyNode) { parent.appendChild(emptyNode); }
    nodes.forEach(function (node) { parent.appendChild(node); });
  }

  function emptyRow(columns, text) {
    var row = el("tr", "empty-row");
    var cell = el("td", "text-secondary", text);
    cell.colSpan = columns;
    row.appendChild(cell);
    return row;
  }

  function emptyItem(text) { return el("li", "list-group-item py-1 text-secondary empty-row", text); }

  // ---- chart --------------------------------------------------------------------------
  var chart = null;

  function hourLabel(bucket) { return bucket.hour.slice(11, 16); }

  function drawChart(hourly) {
    var canvas = document.getElementById("hourly-chart");
    if (!canvas || typeof window.Chart === "undefined") { return; }
    var labels = hourly.map(hourLabel);
    var values = hourly.map(function (bucket) { return bucket.scans; });
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = values;
      chart.update("none");
      return;
    }
    chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: t("Scans"), data: values, backgroundColor: "#0d6efd" }] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 } },
          x: { ticks: { maxRotation: 0, autoSkip: true } }
        }
      }
    });
  }

  function hourlySummary(hourly) {
    var total = 0;
    var peak = hourly[0];
    hourly.forEach(function (bucket) {
      total += bucket.scans;
      if (bucket.scans > peak.scans) { peak = bucket; }
    });
    if (!peak || !peak.scans) { return t("No scans in the last 24 hours."); }
    return t("%(count)s scans in the last 24 hours; busiest hour %(hour)s (%(peak)s).",
             { count: number(total), hour: hourLabel(peak), peak: number(peak.scans) });
  }

  // ---- rendering ----------------------------------------------------------------------
  function setCount(key, value) {
    document.getElementById("count-" + key).textContent = number(value);
  }

  function renderStats(stats) {
    lastGeneratedAt = stats.generated_at;
    setCount("parents-open", stats.parents.open);
    setCount("parents-complete", stats.parents.complete);
    setCount("children-linked", stats.children.linked);
    setCount("children-unlinked", stats.children.unlinked);
    setCount("scans-today", stats.scans.today);
    setCount("scans-last-hour", stats.scans.last_hour);
    drawChart(stats.hourly);
    document.getElementById("hourly-summary").textContent = hourlySummary(stats.hourly);

    replaceChildren(document.getElementById("people-body"), stats.people.map(function (person) {
      var row = el("tr");
      row.appendChild(labelled(el("td", "", person.name), t("Person")));
      row.appendChild(labelled(el("td", "text-end", number(person.scans)), t("Scans")));
      row.appendChild(labelled(el("td", "text-end", number(person.parents_completed)), t("Parents completed")));
      row.appendChild(labelled(el("td", "text-end" + (person.errors ? " text-danger fw-semibold" : ""), number(person.errors)), t("Errors")));
      return row;
    }), emptyRow(4, t("Nobody has scanned today yet.")));

    replaceChildren(document.getElementById("stale-body"), stats.stale_parents.map(function (parent) {
      var row = el("tr");
      var codeCell = labelled(el("td"), t("Parent"));
      codeCell.appendChild(bagLink(parent.code));
      row.appendChild(codeCell);
      row.appendChild(labelled(el("td", "text-end", parent.child_count + " / " + parent.capacity), t("Bags")));
      var when = el("td");
      when.dataset.label = t("Last scan");
      when.appendChild(timeNode(parent.last_scan_at));
      row.appendChild(when);
      return row;
    }), emptyRow(3, t("No open parent is waiting.")));

    replaceChildren(document.getElementById("exceptions-list"), stats.exceptions.map(function (item) {
      var li = el("li", "list-group-item py-1");
      var top = el("div", "d-flex justify-content-between gap-2");
      var codeSpan = el("span");
      codeSpan.appendChild(bagLink(item.code));
      top.appendChild(codeSpan);
      var meta = el("span", "text-secondary small text-nowrap");
      meta.appendChild(timeNode(item.at));
      meta.appendChild(document.createTextNode(" \u00b7 " + item.name));
      top.appendChild(meta);
      li.appendChild(top);
      li.appendChild(el("div", "small text-danger-emphasis", item.reason));
      return li;
    }), emptyItem(t("No refused scans.")));

    replaceChildren(document.getElementById("imports-list"), stats.imports.map(function (item) {
      var li = el("li", "list-group-item py-1 small");
      var link = el("a", "", item.file);
      link.href = config.importsUrl + "/" + item.import_id;
      li.appendChild(link);
      li.appendChild(document.createTextNode(" " + t("by %(name)s:", { name: item.name }) + " " +
        (item.children_linked === 1 ? t("%(num)s bag linked", { num: 1 }) : t("%(num)s bags linked", { num: number(item.children_linked) })) + ", " +
        (item.parents_created === 1 ? t("%(num)s new parent", { num: 1 }) : t("%(num)s new parents", { num: number(item.parents_created) })) + " "));
      li.appendChild(el("span", "text-secondary", "\u00b7 "));
      li.appendChild(timeNode(item.at, "text-secondary"));
      return li;
    }), emptyItem(t("No file imported today.")));

    if (stats.dispatches) { renderDispatches(stats.dispatches); }
  }

  function renderDispatches(figures) {
    setCount("dispatch-loading", figures.loading);
    setCount("dispatch-dispatched", figures.dispatched_today);
    setCount("dispatch-parents-out", figures.parents_out_today);
    setCount("dispatch-bags-out", figures.bags_out_today);
    var list = document.getElementById("stale-dispatches");
    replaceChildren(list, figures.stale.map(function (item) {
      var li = el("li", "list-group-item py-1 small");
      li.appendChild(el("span", "font-monospace fw-semibold", item.code));
      li.appendChild(document.createTextNode(" " + t("%(vehicle)s to %(destination)s", { vehicle: item.vehicle_number, destination: item.destination }) + ": " +
        t("%(loaded)s / %(expected)s parents", { loaded: item.parents_loaded, expected: item.expected_parents }) + " "));
      // "opened %(when)s": the time is an element of its own, put where the words say.
      var opened = el("span", "text-secondary", "\u00b7 ");
      var words = t("opened %(when)s").split("%(when)s");
      opened.appendChild(document.createTextNode(words[0]));
      opened.appendChild(timeNode(item.created_at));
      opened.appendChild(document.createTextNode(words.slice(1).join("")));
      li.appendChild(opened);
      li.appendChild(document.createTextNode(" \u00b7 "));
      var link = el("a", "", t("manifest"));
      link.href = list.dataset.manifestUrl.replace("__CODE__", encodeURIComponent(item.code));
      link.setAttribute("download", "");
      li.appendChild(link);
      return li;
    }), emptyItem(t("No dispatch has been loading that long.")));
  }

  function renderActivity(activity) {
    replaceChildren(document.getElementById("activity-list"), activity.items.map(function (item) {
      var li = el("li", "list-group-item py-1 small" + (item.outcome !== "accepted" ? " text-danger-emphasis" : ""));
      li.appendChild(timeNode(item.at, "text-secondary small"));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("strong", "", item.name));
      li.appendChild(document.createTextNode(" " + item.summary));
      return li;
    }), emptyItem(t("No scans yet.")));
  }

  // ---- fetching -----------------------------------------------------------------------
  function getJson(url) {
    var controller = window.AbortController ? new AbortController() : null;
    var timeout = controller ? window.setTimeout(function () { controller.abort(); }, config.timeoutMs) : null;
    return fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok) {
          var error = new Error((body && body.error && body.error.message) || ("HTTP " + response.status));
          error.status = response.status;
          throw error;
        }
        return body;
      });
    }).finally(function () { if (timeout) { window.clearTimeout(timeout); } });
  }

  function showStale(error) {
    var since = lastGeneratedAt ? times.clock(new Date(lastGeneratedAt)) : t("the page was loaded");
    root.classList.add("is-stale");
    banner.textContent = "";
    banner.appendChild(el("strong", "", t("Stale:") + " "));
    if (error && error.status === 401) {
      banner.appendChild(document.createTextNode(
        t("these figures are from %(since)s. Your session has ended:", { since: since }) + " "));
      var link = el("a", "alert-link", t("log in again"));
      link.href = config.loginUrl;
      banner.appendChild(link);
      banner.appendChild(document.createTextNode(" " + t("to see current figures.")));
    } else if (error && error.status === 403) {
      banner.appendChild(document.createTextNode(
        t("these figures are from %(since)s.", { since: since }) + " " + error.message));
    } else if (error && error.status) {
      banner.appendChild(document.createTextNode(
        t("the server could not answer since %(since)s (%(reason)s). The figures below are from then; retrying every %(seconds)s s.",
          { since: since, reason: error.message, seconds: config.refreshMs / 1000 })));
    } else {
      banner.appendChild(document.createTextNode(
        t("the server could not be reached since %(since)s. The figures below are from then; retrying every %(seconds)s s.",
          { since: since, seconds: config.refreshMs / 1000 })));
    }
    banner.classList.remove("d-none");
  }

  function showFresh() {
    root.classList.remove("is-stale");
    banner.classList.add("d-none");
    banner.textContent = "";
    updatedEl.textContent = "";
    updatedEl.appendChild(timeNode(lastGeneratedAt));
  }

  function refresh() {
    inFlight = true;
    return Promise.all([getJson(config.statsUrl), getJson(config.activityUrl)])
      .then(function (answers) {
        renderStats(answers[0]);
        renderActivity(answers[1]);
        showFresh();
      }, showStale)
      .finally(function () { inFlight = false; });
  }

  // ---- timing: every refreshMs while visible; at once when the tab comes back ---------
  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(tick, config.refreshMs);
  }

  function tick() {
    timer = null;
    if (document.hidden) { return; }  // visibilitychange starts it again
    refresh().then(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      window.clearTimeout(timer);
      timer = null;
    } else if (!timer && !inFlight) {
      tick();
    }
  });

  drawChart(JSON.parse(root.dataset.hourly));
  schedule();
}());
