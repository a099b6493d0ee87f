/* The loading station of one dispatch (issue 20): built like the scan station, for a
 * keyboard-wedge scanner. Each parent read is sent to the JSON API in the order it was read
 * (with a scan_id, so a resend after a lost answer is harmless); the counters, the message,
 * the tone and the flash say what happened. Command barcodes (TT:UNDO, TT:FINISH, TT:CANCEL)
 * press the buttons. "Dispatch" asks for a reason when the truck leaves short. Every form
 * here also works without this script (post, redirect, get).
 *
 * Shares the station's modules: sender.js (the one POST with retry and CSRF renewal) and
 * feedback.js (tone, vibration, flash). */
import { createSender, errorOf, unreachable } from "../station/sender.js";
import { audioContext, createFeedback } from "../station/feedback.js";
import { prependResult } from "../station/results.js";

const MESSAGE_CLASS = { ok: "msg-ok", duplicate: "msg-warn", error: "msg-error", complete: "msg-complete", info: "msg-info" };
const byId = (id) => document.getElementById(id);
// Indian grouping (1,00,000) for Hindi, as the server writes it; Latin digits always.
const numberFormat = new Intl.NumberFormat(document.documentElement.lang === "hi" ? "en-IN" : "en-US");
const grouped = (value) => numberFormat.format(Number(value));
// The page's words in its language (static/js/i18n.js; every string is in app/i18n_js.py).
const t = window.t || ((text) => text);
// A dispatch's status as the page's badge says it.
const STATUS = { loading: () => t("loading"), dispatched: () => t("dispatched"), cancelled: () => t("cancelled") };

function normalise(raw) {
  return raw.replace(/[\u200b-\u200f\u2060\ufeff\u00a0\u202f\u2007\u00ad]/g, "").normalize("NFKC")
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, "").trim().toUpperCase();
}

function newScanId() {
  const bytes = new Uint8Array(12);
  window.crypto.getRandomValues(bytes);
  return "d-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const root = byId("loading");
if (root) { start(root); }

function start(root) {
  const code = root.dataset.dispatch;
  const path = "/dispatches/" + code.split("/").map(encodeURIComponent).join("/");
  const commands = JSON.parse(root.dataset.commands || "{}");
  const supervisor = root.dataset.supervisor === "yes";
  const sender = createSender({ apiBase: root.dataset.apiBase, sessionUrl: root.dataset.sessionUrl });
  const play = createFeedback(root, byId("flash-overlay"));
  const el = {
    input: byId("scan-input"), form: byId("load-form"), message: byId("message"),
    loaded: byId("loaded"), expected: byId("expected"), bags: byId("bags"), weight: byId("weight"),
    results: byId("results-list"), parents: byId("parents-list"), send: byId("send-form"),
    reason: byId("send-reason"), status: byId("dispatch-status"), pending: byId("pending-note")
  };
  const mine = [];  // parents this page loaded, last one last (for "Undo last")
  let chain = Promise.resolve();
  let waiting = 0;

  function say(kind, text) {
    el.message.className = "scan-message " + MESSAGE_CLASS[kind];
    el.message.textContent = text;
  }

  function logResult(kind, text) {
    if (el.results) { prependResult(el.results, kind, text); }
  }

  function tell(kind, text) {
    say(kind, text);
    logResult(kind, text);
    play(kind);
  }

  function showTotals(dispatch) {
    el.loaded.textContent = dispatch.parents_loaded;
    el.expected.textContent = dispatch.expected_parents;
    el.bags.textContent = grouped(dispatch.children);
    el.weight.textContent = grouped(dispatch.weight_kg);
    if (el.status) { el.status.textContent = STATUS[dispatch.status] ? STATUS[dispatch.status]() : dispatch.status; }
  }

  function addRow(parent) {
    if (el.parents.querySelector('tr[data-code="' + CSS.escape(parent.code) + '"]')) { return; }
    const row = document.createElement("tr");
    row.dataset.code = parent.code;
    const cells = [parent.code, grouped(parent.child_count), t("just now"), ""];
    cells.forEach((text, index) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (index === 0) { cell.className = "font-monospace"; }
      if (index === 1) { cell.className = "text-end"; }
      row.appendChild(cell);
    });
    el.parents.appendChild(row);
  }

  function removeRow(parentCode) {
    const row = el.parents.querySelector('tr[data-code="' + CSS.escape(parentCode) + '"]');
    if (row) { row.remove(); }
  }

  function pending(delta) {
    waiting += delta;
    el.pending.textContent = waiting > 0 ? t("%(count)s sending...", { count: waiting }) : "";
  }

  function onRetry(attempt, retries) {
    say("error", t("No answer from the server: trying again (%(attempt)s of %(retries)s). Keep the parent aside until it is saved.", { attempt, retries }));
  }

  async function loadParent(parentCode) {
    const answer = await sender.post(path + "/parents", { code: parentCode, scan_id: newScanId() }, { onRetry });
    const error = errorOf(answer);
    if (answer.status === 201 || answer.status === 200) {
      const body = answer.body;
      showTotals(body.dispatch);
      if (body.result === "loaded") {
        addRow(body.parent);
        mine.push(body.parent.code);
        const full = body.dispatch.parents_loaded >= body.dispatch.expected_parents;
        const values = { code: body.parent.code, count: grouped(body.parent.child_count) };
        tell(full ? "complete" : "ok", full
          ? t("%(code)s loaded (%(count)s bags). All expected parents are on.", values)
          : t("%(code)s loaded (%(count)s bags).", values));
      } else {
        tell("duplicate", t("%(code)s is already on %(dispatch)s.", { code: body.parent.code, dispatch: code }));
      }
    } else if (error) {
      tell("error", error.message);
    } else if (unreachable(answer)) {
      tell("error", t("%(code)s was NOT saved: the server cannot be reached. Scan it again when the connection is back.", { code: parentCode }));
    } else if (answer.status === 401) {
      tell("error", t("You were logged out. Log in again, then scan %(code)s again.", { code: parentCode }));
    } else {
      tell("error", t("%(code)s was not saved (error %(status)s). Scan it again.", { code: parentCode, status: answer.status }));
    }
  }

  async function unloadLast() {
    const parentCode = mine.pop();
    if (!parentCode) { tell("info", t("You have loaded nothing from this page to undo.")); return; }
    const answer = await sender.post(path + "/unload", { code: parentCode }, { onRetry });
    const error = errorOf(answer);
    if (answer.status === 200) {
      showTotals(answer.body.dispatch);
      removeRow(parentCode);
      tell("info", t("%(code)s was taken off %(dispatch)s.", { code: parentCode, dispatch: code }));
    } else {
      mine.push(parentCode);
      tell("error", error ? error.message : t("The undo was not saved. Try again."));
    }
  }

  async function sendDispatch() {
    if (!supervisor || !el.send) { tell("error", t("Only a supervisor can dispatch. Ask one.")); return; }
    const reason = el.reason.value.trim();
    const answer = await sender.post(path + "/dispatch", reason ? { reason } : {}, { onRetry });
    const error = errorOf(answer);
    if (answer.status === 200) {
      showTotals(answer.body.dispatch);
      tell("complete", t("%(dispatch)s is dispatched and locked.", { dispatch: code }));
      window.setTimeout(() => { window.location.reload(); }, 600);
    } else if (error && (error.code === "under_expected" || error.code === "reason_required")) {
      el.reason.classList.add("reason-needed");
      tell("error", error.message);
      el.reason.focus();
    } else {
      tell("error", error ? error.message : t("The dispatch was not saved. Try again."));
    }
  }

  function command(action) {
    if (action === "unload_last") { return unloadLast(); }
    if (action === "dispatch") { return sendDispatch(); }
    if (action === "cancel_prompt" && el.reason) {
      el.reason.classList.remove("reason-needed");
      el.reason.value = "";
      say("info", t("Scan the next parent."));
    }
    return Promise.resolve();
  }

  function queueWork(work) {
    pending(1);
    chain = chain.then(work).catch(() => {}).then(() => pending(-1));
  }

  if (el.form) {
    el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      audioContext();
      const read = normalise(el.input.value);
      el.input.value = "";
      el.input.focus();
      if (!read) { return; }
      if (Object.prototype.hasOwnProperty.call(commands, read)) {
        queueWork(() => command(commands[read]));
      } else {
        queueWork(() => loadParent(read));
      }
    });
    // The input takes focus back (the scanner types into whatever has it), except from the
    // reason box and the other forms' fields.
    document.addEventListener("click", (event) => {
      if (!event.target.closest("input, textarea, select, button, a, summary")) { el.input.focus(); }
    });
  }
  if (el.send) {
    el.send.addEventListener("submit", (event) => {
      event.preventDefault();
      audioContext();
      queueWork(sendDispatch);
    });
  }
}
