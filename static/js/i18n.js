/* The page's strings in its language (issue 23): the server writes them as a JSON data block
 * (<script type="application/json" id="i18n-strings">: data, never run, so the CSP holds).
 * window.t("English text", {name: value}) answers the translation with %(name)s filled in,
 * or the English text when there is none. Every string passed to t() is listed in
 * app/i18n_js.py (tests/i18n checks it). */
(function () {
  "use strict";
  var table = {};
  var block = document.getElementById("i18n-strings");
  try { table = block ? JSON.parse(block.textContent) : {}; } catch (e) { table = {}; }
  window.t = function (text, values) {
    var out = Object.prototype.hasOwnProperty.call(table, text) && table[text] ? table[text] : text;
    if (values) {
      out = out.replace(/%\((\w+)\)[sd]/g, function (match, name) {
        return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
      }).replace(/%%/g, "%");
    }
    return out;
  };
  window.tracetrackLang = document.documentElement.lang || "en";
})();
