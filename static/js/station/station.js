/* TraceTrack scanner station.
 *
 * Built for a keyboard-wedge scanner: it types the code and presses Enter into the one
 * input, which always takes focus back. Scans are sent one after another, in the order
 * they were read (a child must go to the parent scanned before it). Messages never block
 * the next scan: no alert(), no confirm().
 *
 * Wi-Fi drops: every child scan is first written to the queue (queue.js), then sent from
 * there in order. When the server cannot be reached the scan stays queued, the page shows
 * "N waiting" and goes on accepting scans for the open parent; the queue is sent again when
 * the connection is back, after a reload, or after the browser restarts. The server's
 * scan_id handling makes a resend harmless. A scan the server refuses on replay is listed
 * under "Not saved" with the reason, never dropped silently.
 *
 * Modules: sender.js (the one POST with retry and CSRF renewal), queue.js (IndexedDB),
 * replay.js (the queue sent in batches),
 * view.js (what is shown), feedback.js (tone, vibration, flash).
 */
import { createSender, errorOf } from "./sender.js";
import * as replay from "./replay.js";
import { available as queueAvailable, createQueue } from "./queue.js";
import { createView } from "./view.js";
import { audioContext, createFeedback } from "./feedback.js";

const root = document.getElementById("station");
if (root) { start(root); }

// Every Unicode decimal digit as its ASCII digit (SB\u0967\u0968\u0969\u096a\u096b is SB12345),
// as app/rules/codes.py does: a script's ten digits are ten code points in a row, zero first,
// so a digit's value is how many digits stand right before it.
function asciiDigit(ch) {
  const decimalDigit = /\p{Nd}/u;
  const point = ch.codePointAt(0);
  let before = 0;
  while (before < 60 && decimalDigit.test(String.fromCodePoint(point - before - 1))) { before += 1; }
  return String(before % 10);
}

function normalise(raw) {
  return raw.replace(/[\u200b-\u200f\u2060\ufeff\u00a0\u202f\u2007\u00ad]/g, "").normalize("NFKC")
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, "").replace(/\p{Nd}/gu, asciiDigit).trim().toUpperCase();
}


function start(root) {
  const config = {
    loginUrl: root.dataset.loginUrl,
    parentPattern: new RegExp(root.dataset.parentPattern),
    idleMs: parseInt(root.dataset.idleSeconds, 10) * 1000,
    user: root.dataset.user,
    commands: JSON.parse(root.dataset.commands || "{}")  // command barcode -> action
  };
  const RECENT_MS = 15000;  // a result this soon after the scan gets the full sound and message

  const view = createView();
  const play = createFeedback(root, document.getElementById("flash-overlay"));
  const sender = createSender({ apiBase: root.dataset.apiBase, sessionUrl: root.dataset.sessionUrl });
  const queue = createQueue(config.user);

  let parent = root.dataset.parent ? JSON.parse(root.dataset.parent) : null;
  let chain = Promise.resolve();
  let pending = 0;
  let idleTimer = null;
  let draining = false;
  let retryTimer = null;
  let retryDelay = 2000;
  let sessionLost = false;
  let sentQuietly = 0;

  // ---- the open parent ----------------------------------------------------------------
  function setParent(data, children) {
    parent = { code: data.code, status: data.status, capacity: data.capacity, child_count: data.child_count };
    if (children) { view.renderChildren(children); }
    view.renderParent(parent);
  }

  function updateCounts(data) {
    if (parent && data && data.code === parent.code) {
      Object.assign(parent, { status: data.status, child_count: data.child_count, capacity: data.capacity });
      view.renderParent(parent);
    }
  }

  function dropParent(text) {
    parent = null;
    view.hideConfirm();
    view.renderChildren([]);
    view.renderParent(null);
    view.say("idle", text);
  }

  // Sent with up to five retries, the worker told of each.
  function post(path, body) {
    return sender.post(path, body, {
      onRetry: (attempt, retries) => view.say("info", t("The server is not answering; trying again (%(attempt)s of %(retries)s)\u2026", { attempt, retries }))
    });
  }

  // ---- the queue --------------------------------------------------------------------------
  const recent = (item) => Date.now() - Date.parse(item.scanned_at) < RECENT_MS;
  const isLive = (item) => recent(item) && !item.waited;  // just scanned: answered out loud

  async function showWaiting() {
    const count = (await queue.items()).length;
    view.showWaiting(count, sessionLost ? t(": log in again to send them") : navigator.onLine ? "" : t(" (offline)"));
    try { window.localStorage.setItem("tracetrack.waiting", String(count)); } catch (e) { /* private mode */ }
    return count;
  }

  async function renderRefused() {
    view.renderRefused(await queue.refused(), async (item) => {
      await queue.removeRefused(item.scan_id);
      await renderRefused();
      view.focus();
    });
  }

  function scheduleRetry() {
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(() => { retryTimer = null; drain(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  // Queued scans of the open parent appear in its list, marked as not yet sent; a scan that
  // had to wait is answered quietly when it gets through, and listed if it is refused.
  async function markWaiting(items) {
    await Promise.all(items.filter((item) => !item.waited).map((item) => {
      item.waited = true;
      return queue.put(item);
    }));
    items.forEach((item) => { if (parent && item.parent === parent.code) { view.addChild(item.code, true); } });
    return showWaiting();
  }

  // Send the queue, oldest first, one at a time; stop at the first scan that cannot get
  // through, and try again later. Each scan goes to the parent it was scanned for.
  async function drain() {
    if (draining || sessionLost) { return; }
    draining = true;
    try {
      await drainItems();
    } catch (error) {
      scheduleRetry();
    }
    draining = false;
    const count = await showWaiting();
    if (count === 0) {
      if (sentQuietly > 0 && view.waitingMessageShown()) {
        view.say("ok", sentQuietly === 1 ? t("Connection back: 1 waiting scan was sent. Keep scanning.")
          : t("Connection back: %(count)s waiting scans were sent. Keep scanning.", { count: sentQuietly }));
      }
      sentQuietly = 0;
    }
  }

  async function drainItems() {
    for (;;) {
      const items = await queue.items();
      if (!items.length) { retryDelay = 2000; return; }
      const group = replay.nextGroup(items, isLive);
      const live = new Map(group.items.map((item) => [item.scan_id, isLive(item)]));
      const { failed, answers } = await replay.send(sender, group);
      if (failed && failed.status === 401) {
        sessionLost = true;
        view.say("error", t("Your session has ended. Log in again: the waiting scans are kept and will be sent after."));
        play("error");
        view.showLoginLink(config.loginUrl);
        return;
      }
      if (failed) {  // no answer, or not now: the scans stay queued and are sent again later
        scheduleRetry();
        const count = await markWaiting(items);
        if (live.get(group.items[0].scan_id)) {
          view.say("duplicate", count === 1
            ? t("The server cannot be reached: 1 scan is saved on this device and will be sent when it answers. Keep scanning.")
            : t("The server cannot be reached: %(count)s scans are saved on this device and will be sent when it answers. Keep scanning.", { count }), true);
          play("duplicate");
        }
        return;
      }
      for (const { item, answer } of answers) { await settle(item, answer, live.get(item.scan_id)); }
    }
  }

  async function settle(item, answer, live) {
    const error = errorOf(answer);
    await queue.remove(item.scan_id);
    if (answer.status >= 200 && answer.status < 300) {
      if (live) { handleSuccess(answer); } else { quietSuccess(answer); }
      return;
    }
    // Refused (409, 404, 422...): listed for the worker with the reason. A scan whose id the
    // server had seen for another scan (scan_id_reused) was stored nowhere: it goes to "Not
    // saved" even when it was just scanned, so it is scanned again, never lost.
    if (live && !(error && error.code === "scan_id_reused")) {
      handleFailure(answer, item.code);
      return;
    }
    if (parent && item.parent === parent.code) { view.removeChild(item.code); }  // not in it
    view.say("error", t("%(code)s was refused when it was sent: see \u201cNot saved\u201d.", { code: item.code }));
    await queue.addRefused({ scan_id: item.scan_id, code: item.code, parent: item.parent, user: item.user,
                             reason: error ? error.message : t("Refused (%(status)s)", { status: answer.status }), at: new Date().toISOString() });
    play("error");
    view.logResult("error", t("%(code)s not saved: %(reason)s", { code: item.code, reason: error ? error.message : answer.status }));
    await renderRefused();
  }

  // A scan sent from the queue after an outage: the worker has moved on, so no loud message.
  function quietSuccess(answer) {
    const p = answer.body.parent;
    const child = answer.body.child ? answer.body.child.code : "";
    sentQuietly += 1;
    if (answer.body.result === "linked") { view.countMyScan(); }
    if (parent && p.code === parent.code) {
      updateCounts(p);
      view.markSent(child);
    }
    view.logResult("ok", t("%(code)s sent to %(parent)s", { code: child, parent: p.code }));
  }

  // ---- results --------------------------------------------------------------------------
  function handleFailure(answer, code) {
    const error = errorOf(answer);
    if (answer.status === 401) {
      view.say("error", code ? t("Your session has ended. Log in again, then scan %(code)s again.", { code })
                           : t("Your session has ended. Log in again, then scan the bag again."));
      play("error");
      window.setTimeout(() => { window.location.href = config.loginUrl; }, 2500);
      return;
    }
    if (!error) {
      const text = t("Not saved: the server cannot be reached. Scan %(code)s again when the connection is back.", { code: code || "" });
      view.say("error", text);
      view.logResult("error", text);
      play("error");
      return;
    }
    if (error.parent) { updateCounts(error.parent); }
    if (error.code === "under_capacity") {
      view.showConfirm(error.message);
      view.say("duplicate", error.message);
      play("duplicate");
      return;
    }
    view.say("error", error.message);
    view.logResult("error", error.message);
    play("error");
  }

  function handleSuccess(answer) {
    const body = answer.body;
    const p = body.parent;
    const child = body.child ? body.child.code : "";
    let left = "";
    switch (body.result) {
      case "parent_created":
      case "parent_opened":
        if (p.status === "complete" && parent && parent.status === "open" && parent.code !== p.code) {
          // A complete parent scanned while filling another: stay on the open one.
          view.say("duplicate", t("%(code)s is already complete (%(count)s / %(capacity)s). Still filling %(parent)s (%(parent_count)s / %(parent_capacity)s): scan its next bag.",
                   { code: p.code, count: p.child_count, capacity: p.capacity, parent: parent.code,
                     parent_count: parent.child_count, parent_capacity: parent.capacity }));
          play("duplicate");
          view.logResult("duplicate", t("%(code)s is complete; kept %(parent)s", { code: p.code, parent: parent.code }));
          break;
        }
        left = parent && parent.status === "open" && parent.code !== p.code && parent.child_count < parent.capacity
          ? " " + t("%(parent)s is left open at %(count)s / %(capacity)s.", { parent: parent.code, count: parent.child_count, capacity: parent.capacity }) : "";
        setParent(p, p.children || []);
        if (p.status === "complete") {
          view.say("complete", t("%(code)s is complete (%(count)s / %(capacity)s). Scan a new parent, or ask a supervisor to reopen it.", { code: p.code, count: p.child_count, capacity: p.capacity }));
          play("duplicate");
        } else {
          view.say(left ? "duplicate" : "info", (body.result === "parent_created"
          ? t("New parent %(code)s (%(count)s / %(capacity)s). Scan its bags.", { code: p.code, count: p.child_count, capacity: p.capacity })
          : t("Parent %(code)s (%(count)s / %(capacity)s). Scan its bags.", { code: p.code, count: p.child_count, capacity: p.capacity })) + left);
          play(left ? "duplicate" : "info");
        }
        view.logResult("info", body.result === "parent_created" ? t("%(code)s started", { code: p.code }) : t("%(code)s opened", { code: p.code }));
        break;
      case "linked":
      case "replayed":
        if (body.result === "linked") { view.countMyScan(); }  // "My scans today" counts new links only
        if (parent && p.code === parent.code && child) {
          view.markSent(child);
          view.addChild(child);
        }
        updateCounts(p);
        if (p.status === "complete") {
          view.say("complete", t("%(code)s is complete with %(count)s bags. Scan the next parent.", { code: p.code, count: p.child_count }));
          play("complete");
          view.logResult("complete", t("%(code)s added; %(parent)s complete", { code: child, parent: p.code }));
        } else {
          view.say("ok", t("%(code)s added (%(count)s / %(capacity)s).", { code: child, count: p.child_count, capacity: p.capacity }));
          play("ok");
          view.logResult("ok", t("%(code)s added to %(parent)s", { code: child, parent: p.code }));
        }
        break;
      case "already_linked":
        updateCounts(p);
        view.say("duplicate", t("%(code)s is already in %(parent)s. Scan the next bag.", { code: child, parent: p.code }));
        play("duplicate");
        view.logResult("duplicate", t("%(code)s already in %(parent)s", { code: child, parent: p.code }));
        break;
      case "unlinked":
        view.removeChild(child);
        updateCounts(p);
        view.say("info", t("%(code)s taken out of %(parent)s (%(count)s / %(capacity)s). Put it aside.", { code: child, parent: p.code, count: p.child_count, capacity: p.capacity }));
        play("info");
        view.logResult("info", t("%(code)s undone", { code: child }));
        break;
      case "completed":
        updateCounts(p);
        view.say("complete", t("%(code)s is complete with %(count)s bags. Scan the next parent.", { code: p.code, count: p.child_count }));
        play("complete");
        view.logResult("complete", t("%(code)s finished", { code: p.code }));
        break;
      default:
        view.say("info", body.result);
    }
  }

  async function settled(promise, code) {
    const answer = await promise;
    if (answer.status >= 200 && answer.status < 300) { handleSuccess(answer); } else { handleFailure(answer, code); }
    view.focus();
  }

  // ---- actions --------------------------------------------------------------------------
  async function scan(raw) {
    const code = normalise(raw);
    if (!code) { return; }
    const asParent = !parent || parent.status !== "open" || config.parentPattern.test(code);
    if (asParent) {
      await settled(post("/scans/parent", { code: raw }), code);
      return;
    }
    // Durable first, then sent: a reload, a crash or a dropped connection loses nothing.
    await queue.put(queue.newItem(parent.code, code));
    if (!navigator.onLine || retryTimer !== null || sessionLost) {
      // Known to be cut off: keep it and go on, without waiting for a time-out per scan.
      const count = await markWaiting(await queue.items());
      view.say("duplicate", t("%(code)s saved on this device; %(count)s waiting. They will be sent when the connection is back.", { code, count }), true);
      play("duplicate");
      view.logResult("duplicate", t("%(code)s waiting to be sent", { code }));
      return;
    }
    await drain();
  }

  async function undoLast() {
    if (parent) { await settled(post("/scans/undo", { parent: parent.code }), null); }
  }

  async function finish(force) {
    view.hideConfirm();
    if (parent) {
      await settled(post("/parents/" + encodeURIComponent(parent.code) + "/complete", { force }), null);
    }
  }

  async function askFinish() {
    if (!parent || parent.status !== "open") {
      view.say("info", t("No parent is being filled: there is nothing to finish. Scan a PARENT bag."));
      play("info");
      return;
    }
    if (parent.child_count < parent.capacity) {
      view.showConfirm(parent.code + " has " + parent.child_count + " of " + parent.capacity +
                       " bags. Finish it short? Scanning a bag goes on filling it.");
      view.say("duplicate", t("Finish %(parent)s short? Scan \u201cYes, finish short\u201d (or tap it) to finish; scan \u201cCancel\u201d or the next bag to keep filling.", { parent: parent.code }));
      play("duplicate");
      return;
    }
    await finish(true);
  }

  function newParent() {
    dropParent(t("Scan a PARENT bag to start."));
    view.focus();
  }

  // A command barcode (app/scanning/commands.py) does what its button does, in the order
  // it was scanned among the bags.
  const COMMANDS = {
    finish: () => enqueue(askFinish),
    finish_short: () => enqueue(async () => {
      if (view.confirmShown()) {
        await finish(true);
      } else {
        view.say("info", t("Nothing to confirm: scan \u201cFinish\u201d first."));
        play("info");
      }
    }),
    cancel: () => enqueue(async () => {
      if (view.confirmShown()) {
        view.hideConfirm();
        view.say("info", t("Not finished: keep scanning bags into %(parent)s.", { parent: parent.code }));
      } else {
        view.say("info", t("Nothing to cancel."));
      }
      play("info");
    }),
    undo: () => { view.hideConfirm(); enqueue(undoLast); },
    new_parent: () => enqueue(async () => newParent())
  };

  function enqueue(task) {
    pending += 1;
    view.showPending(pending);
    chain = chain.then(task).catch(() => {
      view.say("error", t("Something went wrong on this page. Reload it, then scan the last bag again."));
    }).then(() => { pending -= 1; view.showPending(pending); });
    resetIdle();
  }

  function resetIdle() {
    window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(() => {
      if (pending > 0 || !parent) { return; }
      dropParent(t("Idle for a while: scan a PARENT bag to continue."));
    }, config.idleMs);
  }

  // ---- events ---------------------------------------------------------------------------
  const form = document.getElementById("scan-form");
  const input = view.el.input;

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const action = event.submitter && event.submitter.value ? event.submitter.value : "scan";
    if (action === "undo") {
      enqueue(undoLast);
    } else if (action === "finish") {
      enqueue(askFinish);
    } else if (action === "finish_short") {
      enqueue(() => finish(true));
    } else {
      const raw = input.value;
      input.value = "";
      const command = config.commands[normalise(raw)];
      if (command) {
        COMMANDS[command]();
      } else if (raw.trim()) {
        view.hideConfirm();  // a scan answers "Finish it short?" with "no": keep filling
        enqueue(() => scan(raw));
      }
    }
    view.focus();
  });

  document.getElementById("confirm-finish-no").addEventListener("click", (event) => {
    event.preventDefault();
    view.hideConfirm();
    view.focus();
  });

  document.getElementById("new-parent-button").addEventListener("click", (event) => {
    event.preventDefault();
    newParent();
  });

  // The input keeps focus: after clicks elsewhere, after the window regains focus, and
  // after it loses focus to anything but a control the worker chose.
  document.addEventListener("click", (event) => {
    if (!event.target.closest("button, a, input, select, textarea, label")) { view.focus(); }
  });
  input.addEventListener("blur", () => {
    window.setTimeout(() => {
      const active = document.activeElement;
      if (!active || active === document.body) { view.focus(); }
    }, 150);
  });
  window.addEventListener("focus", view.focus);
  document.addEventListener("keydown", () => { audioContext(); }, { once: true });

  window.addEventListener("online", () => {
    window.clearTimeout(retryTimer);
    retryTimer = null;
    retryDelay = 2000;
    showWaiting().then(drain);
  });
  window.addEventListener("offline", showWaiting);

  view.renderParent(parent);
  view.focus();
  resetIdle();
  if (queueAvailable) {
    renderRefused();
    showWaiting().then((count) => { if (count && navigator.onLine) { drain(); } });
  }
}
