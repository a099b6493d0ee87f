/* Everything the station shows: the step, the counter, the message, the children of the open
 * parent, the last results, the "Finish it short?" question, the waiting and "Not saved"
 * lists. No decisions here: the station module says what to show. */

import { prependResult } from "./results.js";

const MESSAGE_CLASS = { ok: "msg-ok", duplicate: "msg-warn", error: "msg-error", complete: "msg-complete", info: "msg-info", idle: "msg-idle" };

const byId = (id) => document.getElementById(id);

export function createView() {
  const el = {
    input: byId("scan-input"), parentField: byId("parent-field"), stepLabel: byId("step-label"),
    statusBadge: byId("parent-status"), count: byId("count"), capacity: byId("capacity"),
    parentCode: byId("parent-code"), message: byId("message"), children: byId("children-list"),
    results: byId("results-list"), undo: byId("undo-button"), finish: byId("finish-button"),
    confirm: byId("confirm-finish"), confirmText: byId("confirm-finish-text"), pending: byId("pending-note"),
    myScans: byId("my-scans-today"), waiting: byId("waiting"), refusedCard: byId("refused-card"),
    refusedList: byId("refused-list")
  };

  // True while the message tells of scans waiting on this device: once they are all sent
  // it is replaced, never left standing after the connection is back.
  let waitingMessage = false;

  function say(kind, text, aboutWaiting = false) {
    waitingMessage = aboutWaiting;
    el.message.className = "scan-message " + MESSAGE_CLASS[kind];
    el.message.textContent = text;
  }

  const logResult = (kind, text) => prependResult(el.results, kind, text);

  function childItem(code, waiting) {
    const item = document.createElement("li");
    item.className = "list-group-item py-1 font-monospace" + (waiting ? " waiting-item" : "");
    item.dataset.code = code;
    item.textContent = code;
    return item;
  }

  const hasChild = (code) => Array.from(el.children.children).some((item) => item.dataset.code === code);

  function renderChildren(codes) {
    el.children.textContent = "";
    codes.forEach((code) => el.children.appendChild(childItem(code)));
  }

  function addChild(code, waiting = false) {
    if (!hasChild(code)) { el.children.prepend(childItem(code, waiting)); }
  }

  function markSent(code) {
    Array.from(el.children.children).forEach((item) => {
      if (item.dataset.code === code) { item.classList.remove("waiting-item"); }
    });
  }

  function removeChild(code) {
    Array.from(el.children.children).forEach((item) => {
      if (item.dataset.code === code || item.textContent === code) { item.remove(); }
    });
  }

  function renderParent(parent) {
    const filling = parent !== null && parent.status === "open";
    el.parentField.value = parent ? parent.code : "";
    el.count.textContent = parent ? parent.child_count : 0;
    el.capacity.textContent = parent ? parent.capacity : "\u2013";
    el.parentCode.textContent = parent ? parent.code : t("No parent");
    el.statusBadge.textContent = parent ? (parent.status === "complete" ? t("complete") : t("open")) : "";
    el.statusBadge.className = "badge " + (parent ? (filling ? "text-bg-primary" : "text-bg-success") : "text-bg-secondary");
    el.stepLabel.textContent = "";
    if (filling) {
      const strong = document.createElement("strong");
      strong.textContent = parent.code;
      // "Filling %(code)s: ..." with the code in bold, wherever the language puts it.
      const [before, after] = t("Filling %(code)s: scan a CHILD bag").split("%(code)s");
      el.stepLabel.append(before, strong, after === undefined ? "" : after);
    } else {
      el.stepLabel.textContent = parent ? t("%(code)s is complete: scan the next PARENT bag", { code: parent.code }) : t("Scan a PARENT bag to start");
    }
    el.input.placeholder = filling ? t("Scan a child bag") : t("Scan a parent bag");
    el.undo.disabled = !parent;
    el.finish.disabled = !filling;
    const url = new URL(window.location.href);
    if (parent) { url.searchParams.set("parent", parent.code); } else { url.searchParams.delete("parent"); }
    url.searchParams.delete("confirm_finish");
    window.history.replaceState(null, "", url.pathname + url.search);
  }

  // The scan input keeps the focus, also while "Finish it short?" is shown: the scanner's
  // Enter must never press the question's button.
  function focus() { el.input.focus({ preventScroll: true }); }

  function showConfirm(text) {
    el.confirmText.textContent = text;
    el.confirm.classList.remove("d-none");
    focus();
  }

  function hideConfirm() { el.confirm.classList.add("d-none"); }

  const confirmShown = () => !el.confirm.classList.contains("d-none");

  function countMyScan() {
    if (el.myScans) { el.myScans.textContent = String((parseInt(el.myScans.textContent, 10) || 0) + 1); }
  }

  function showPending(count) {
    el.pending.textContent = count > 1 ? t("%(count)s scans being sent\u2026", { count }) : "";
  }

  function showWaiting(count, note) {
    el.waiting.textContent = count ? t("%(count)s waiting", { count }) + note : "";
    el.waiting.classList.toggle("d-none", count === 0);
  }

  function renderRefused(items, onDismiss) {
    el.refusedList.textContent = "";
    items.forEach((item) => {
      const li = document.createElement("li");
      li.className = "list-group-item py-1 d-flex justify-content-between gap-2 align-items-start";
      const text = document.createElement("span");
      text.textContent = item.code + " \u2192 " + item.parent + ": " + item.reason;
      const dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "btn btn-sm btn-outline-secondary";
      dismiss.textContent = t("Dealt with");
      dismiss.addEventListener("click", () => onDismiss(item));
      li.append(text, dismiss);
      el.refusedList.appendChild(li);
    });
    el.refusedCard.classList.toggle("d-none", items.length === 0);
  }

  function showLoginLink(url) {
    const link = document.createElement("a");
    link.href = url;
    link.className = "btn btn-sm btn-warning ms-2";
    link.textContent = t("Log in");
    el.message.appendChild(link);
  }

  return {
    el, say, logResult, renderChildren, addChild, markSent, removeChild, renderParent, focus,
    showConfirm, hideConfirm, confirmShown, countMyScan, showPending, showWaiting, renderRefused,
    showLoginLink, waitingMessageShown: () => waitingMessage
  };
}
