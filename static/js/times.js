/* One time format on every page (issue 18, item 6), in the warehouse's zone (APP_TIMEZONE,
 * on <body data-timezone>): "4 Dec 2026, 15:32", as the server writes it (app/display.py),
 * and "3 min ago" for the recent ones, with the exact time on hover (title) or on a tap.
 * window.tracetrackTime is used by the dashboard and the station. */
(function () {
  "use strict";

  var zone = document.body.dataset.timezone || "UTC";
  var t = window.t || function (text) { return text; };
  // The page's language for month names; Latin digits always (-u-nu-latn), as the server writes.
  var locale = (document.documentElement.lang === "hi" ? "hi-IN" : "en-GB") + "-u-nu-latn";
  var RELATIVE_MS = 12 * 3600 * 1000;  // older than this: the exact time is clearer
  var parts = {};
  ["exact", "seconds"].forEach(function (kind) {
    var options = { timeZone: zone, day: "numeric", month: "short", year: "numeric",
                    hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (kind === "seconds") { options.second = "2-digit"; }
    try {
      parts[kind] = new Intl.DateTimeFormat(locale, options);
    } catch (e) {  // an unknown zone: the browser's own
      delete options.timeZone;
      parts[kind] = new Intl.DateTimeFormat(locale, options);
    }
  });
  var clockFormat = new Intl.DateTimeFormat(locale, { timeZone: parts.exact.resolvedOptions().timeZone,
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

  function pieces(format, date) {
    var out = {};
    format.formatToParts(date).forEach(function (part) { out[part.type] = part.value; });
    return out;
  }

  function exact(date, withSeconds) {
    var p = pieces(withSeconds ? parts.seconds : parts.exact, date);
    return p.day + " " + p.month + " " + p.year + ", " + p.hour + ":" + p.minute + (withSeconds ? ":" + p.second : "");
  }

  function relative(date, now) {
    var ms = (now || Date.now()) - date.getTime();
    if (ms < -60000 || ms > RELATIVE_MS) { return null; }
    var minutes = Math.round(ms / 60000);
    if (minutes < 1) { return t("just now"); }
    if (minutes < 60) { return t("%(minutes)s min ago", { minutes: minutes }); }
    var hours = Math.floor(minutes / 60);
    return minutes % 60 ? t("%(hours)s h %(minutes)s min ago", { hours: hours, minutes: minutes % 60 })
      : t("%(hours)s h ago", { hours: hours });
  }

  /* The text for an ISO time: relative when recent, else exact. */
  function format(iso) {
    if (!iso) { return t("never"); }
    var date = new Date(iso);
    if (isNaN(date.getTime())) { return ""; }
    return relative(date) || exact(date, false);
  }

  function title(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? "" : exact(date, true) + " (" + parts.exact.resolvedOptions().timeZone + ")";
  }

  /* A <time> element for an ISO time, as the server writes them. */
  function element(iso) {
    var node = document.createElement("time");
    if (!iso) { node.textContent = t("never"); return node; }
    node.dateTime = iso;
    node.title = title(iso);
    node.dataset.when = "";
    node.textContent = format(iso);
    return node;
  }

  function refresh(scope) {
    Array.prototype.forEach.call((scope || document).querySelectorAll("time[data-when]"), function (node) {
      if (node.dataset.showExact === "1") { return; }
      var text = format(node.getAttribute("datetime"));
      if (text && node.textContent !== text) { node.textContent = text; }
    });
  }

  // A tap shows the exact time (phones have no hover); a second tap goes back.
  document.addEventListener("click", function (event) {
    var node = event.target.closest && event.target.closest("time[data-when]");
    if (!node || event.target.closest("a")) { return; }
    var exactNow = node.dataset.showExact !== "1";
    node.dataset.showExact = exactNow ? "1" : "0";
    node.textContent = exactNow ? node.title : format(node.getAttribute("datetime"));
  });

  window.tracetrackTime = {
    format: format, title: title, element: element, refresh: refresh,
    clock: function (date) { return clockFormat.format(date || new Date()); }
  };
  refresh();
  window.setInterval(refresh, 30000);
}());
