/* TraceTrack scanner station.
 *
 * Built for a keyboard-wedge scanner: it types the code and presses Enter into the one
 * input, which always takes focus back. Scans are sent one after another, in the order
 * they were read (a child must go to the parent scanned before it). Messages never block
 * the next scan: no alert(), no confirm().
 *
 * Wi-Fi drops: every child scan is first written to a queue in IndexedDB (its scan_id, its
 * parent, when it was scanned, who scanned it), then sent from there in order. When the
 * server cannot be reached (offline, timeout, 502, 503, 504) the scan stays queued, the page
 * shows "N waiting" and goes on accepting scans for the open parent; the queue is sent again
 * when the connection is back, after a reload, or after the browser restarts. The server's
 * scan_id handling makes a resend harmless. A scan the server refuses on replay is listed
 * under "Not saved" with the reason, never dropped silently.
 */
(function () {
  "use strict";

  var root = document.getElementById("station");
  if (!root) { return; }

  var form = document.getElementById("scan-form");
  var input = document.getElementById("scan-input");
  var parentField = document.getElementById("parent-field");
  var stepLabel = document.getElementById("step-label");
  var statusBadge = document.getElementById("parent-status");
  var countEl = document.getElementById("count");
  var capacityEl = document.getElementById("capacity");
  var parentCodeEl = document.getElementById("parent-code");
  var messageEl = document.getElementById("message");
  var childrenList = document.getElementById("children-list");
  var resultsList = document.getElementById("results-list");
  var undoButton = document.getElementById("undo-button");
  var finishButton = document.getElementById("finish-button");
  var newParentButton = document.getElementById("new-parent-button");
  var confirmPanel = document.getElementById("confirm-finish");
  var confirmText = document.getElementById("confirm-finish-text");
  var confirmNo = document.getElementById("confirm-finish-no");
  var overlay = document.getElementById("flash-overlay");
  var pendingNote = document.getElementById("pending-note");
  var myScansEl = document.getElementById("my-scans-today");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var waitingEl = document.getElementById("waiting");
  var refusedCard = document.getElementById("refused-card");
  var refusedList = document.getElementById("refused-list");

  var config = {
    apiBase: root.dataset.apiBase,
    sessionUrl: root.dataset.sessionUrl,
    loginUrl: root.dataset.loginUrl,
    parentPattern: new RegExp(root.dataset.parentPattern),
    idleMs: parseInt(root.dataset.idleSeconds, 10) * 1000,
    user: root.dataset.user,
    timeoutMs: 10000,
    retries: 5
  };
  var MAX_RESULTS = 12;

  var parent = root.dataset.parent ? JSON.parse(root.dataset.parent) : null;
  var chain = Promise.resolve();
  var pending = 0;
  var idleTimer = null;

  // ---- codes --------------------------------------------------------------------------
  var INVISIBLE = /[\u200b-\u200f\u2060\ufeff\u00a0\u202f\u2007\u00ad]/g;
  var CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

  function normalise(raw) {
    return raw.replace(INVISIBLE, "").normalize("NFKC").replace(CONTROL, "").trim().toUpperCase();
  }

  function newScanId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  // ---- feedback: sound, flash, vibration ----------------------------------------------
  var audio = null;

  function audioContext() {
    if (!audio) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return null; }
      audio = new Ctx();
    }
    if (audio.state === "suspended") { audio.resume(); }
    return audio;
  }

  var TONES = {
    ok: [[880, 0.09, "sine"]],
    duplicate: [[660, 0.08, "triangle"], [660, 0.08, "triangle"]],
    error: [[196, 0.35, "square"]],
    complete: [[523, 0.1, "sine"], [659, 0.1, "sine"], [784, 0.1, "sine"], [1047, 0.22, "sine"]],
    info: [[740, 0.06, "sine"]]
  };
  var VIBRATION = { ok: 40, duplicate: [60, 60, 60], error: [250, 80, 250], complete: [80, 40, 80, 40, 160], info: 30 };

  function play(kind) {
    var ctx = audioContext();
    if (ctx) {
      var at = ctx.currentTime;
      TONES[kind].forEach(function (tone) {
        var osc = ctx.createOscillator();
        var gain = ctx.createGain();
        osc.type = tone[2];
        osc.frequency.value = tone[0];
        gain.gain.setValueAtTime(0.25, at);
        gain.gain.exponentialRampToValueAtTime(0.001, at + tone[1]);
        osc.connect(gain).connect(ctx.destination);
        osc.start(at);
        osc.stop(at + tone[1]);
        at += tone[1] + 0.04;
      });
    }
    if (navigator.vibrate) { navigator.vibrate(VIBRATION[kind]); }
    root.dataset.lastTone = kind;  // which sound and colour the last result had
    overlay.className = "flash-overlay flash-" + kind;
    window.setTimeout(function () { overlay.className = "flash-overlay"; }, 380);
  }

  // ---- rendering ----------------------------------------------------------------------
  var MESSAGE_CLASS = { ok: "msg-ok", duplicate: "msg-warn", error: "msg-error", complete: "msg-complete", info: "msg-info", idle: "msg-idle" };

  // True while the message tells of scans waiting on this device: once they are all sent it
  // is replaced, never left standing after the connection is back.
  var waitingMessage = false;

  function say(kind, text, aboutWaiting) {
    waitingMessage = !!aboutWaiting;
    messageEl.className = "scan-message " + MESSAGE_CLASS[kind];
    messageEl.textContent = text;
  }

  function logResult(kind, text) {
    var item = document.createElement("li");
    item.className = "list-group-item py-1 result-" + kind;
    var time = document.createElement("span");
    time.className = "text-secondary me-2 small";
    time.textContent = new Date().toLocaleTimeString();
    item.appendChild(time);
    item.appendChild(document.createTextNode(text));
    resultsList.insertBefore(item, resultsList.firstChild);
    while (resultsList.children.length > MAX_RESULTS) { resultsList.removeChild(resultsList.lastChild); }
  }

  function renderChildren(codes) {
    childrenList.textContent = "";
    codes.forEach(function (code) { childrenList.appendChild(childItem(code)); });
  }

  function childItem(code, waiting) {
    var item = document.createElement("li");
    item.className = "list-group-item py-1 font-monospace" + (waiting ? " waiting-item" : "");
    item.dataset.code = code;
    item.textContent = code;
    return item;
  }

  function renderParent() {
    var filling = parent && parent.status === "open";
    parentField.value = parent ? parent.code : "";
    countEl.textContent = parent ? parent.child_count : 0;
    capacityEl.textContent = parent ? parent.capacity : "\u2013";
    parentCodeEl.textContent = parent ? parent.code : "No parent";
    statusBadge.textContent = parent ? parent.status : "";
    statusBadge.className = "badge " + (parent ? (filling ? "text-bg-primary" : "text-bg-success") : "text-bg-secondary");
    stepLabel.textContent = "";
    if (filling) {
      stepLabel.appendChild(document.createTextNode("Filling "));
      var strong = document.createElement("strong");
      strong.textContent = parent.code;
      stepLabel.appendChild(strong);
      stepLabel.appendChild(document.createTextNode(": scan a CHILD bag"));
    } else {
      stepLabel.textContent = parent ? parent.code + " is complete: scan the next PARENT bag" : "Scan a PARENT bag to start";
    }
    input.placeholder = filling ? "Scan a child bag" : "Scan a parent bag";
    undoButton.disabled = !parent;
    finishButton.disabled = !filling;
    var url = new URL(window.location.href);
    if (parent) { url.searchParams.set("parent", parent.code); } else { url.searchParams.delete("parent"); }
    url.searchParams.delete("confirm_finish");
    window.history.replaceState(null, "", url.pathname + url.search);
  }

  function setParent(data, children) {
    parent = {
      code: data.code, status: data.status, capacity: data.capacity, child_count: data.child_count
    };
    if (children) { renderChildren(children); }
    renderParent();
  }

  function updateCounts(data) {
    if (parent && data && data.code === parent.code) {
      parent.status = data.status;
      parent.child_count = data.child_count;
      parent.capacity = data.capacity;
      renderParent();
    }
  }

  function setPending(delta) {
    pending += delta;
    pendingNote.textContent = pending > 1 ? pending + " scans being sent\u2026" : "";
  }

  // The scan input keeps the focus, also while "Finish it short?" is shown: the scanner's
  // Enter must never press the confirmation's button.
  function refocus() {
    input.focus({ preventScroll: true });
  }

  function showConfirm(text) {
    confirmText.textContent = text;
    confirmPanel.classList.remove("d-none");
    input.focus({ preventScroll: true });
  }

  function confirmShown() { return !confirmPanel.classList.contains("d-none"); }

  function countMyScan(result) {  // "My scans today" counts new links only
    if (result === "linked" && myScansEl) {
      myScansEl.textContent = String((parseInt(myScansEl.textContent, 10) || 0) + 1);
    }
  }

  // ---- talking to the server ----------------------------------------------------------
  function sleep(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }

  function renewCsrfToken() {
    return fetch(config.sessionUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw { status: response.status }; }
        return response.json();
      })
      .then(function (body) { csrfMeta.setAttribute("content", body.csrf_token); });
  }

  function send(path, body) {
    var controller = new AbortController();
    var timer = window.setTimeout(function () { controller.abort(); }, config.timeoutMs);
    return fetch(config.apiBase + path, {
      method: "POST",
      credentials: "same-origin",
      signal: controller.signal,
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfMeta.getAttribute("content") },
      body: JSON.stringify(body)
    }).then(function (response) {
      window.clearTimeout(timer);
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, body: json, retryAfter: parseInt(response.headers.get("Retry-After") || "0", 10) };
      });
    }, function () {
      window.clearTimeout(timer);
      return { status: 0, body: {}, retryAfter: 0 };
    });
  }

  // Resolves with {status, body}; retries what a resend cannot double (503, 502, 504, no
  // answer), renews an expired CSRF token once, and never throws.
  function post(path, body) {
    var attempt = 0;
    var renewed = false;
    function tryOnce() {
      return send(path, body).then(function (answer) {
        var code = answer.body && answer.body.error ? answer.body.error.code : null;
        if (answer.status === 400 && code === "csrf_failed" && !renewed) {
          renewed = true;
          return renewCsrfToken().then(tryOnce, function () { return answer; });
        }
        var retryable = answer.status === 0 || answer.status === 502 || answer.status === 503 || answer.status === 504;
        if (retryable && attempt < config.retries) {
          attempt += 1;
          say("info", "The server is not answering; trying again (" + attempt + " of " + config.retries + ")\u2026");
          var wait = Math.max(answer.retryAfter * 1000, 500 * Math.pow(2, attempt - 1));
          return sleep(Math.min(wait, 8000)).then(tryOnce);
        }
        return answer;
      });
    }
    return tryOnce();
  }

  // ---- the durable queue (IndexedDB) ----------------------------------------------------
  var DB_NAME = "tracetrack-station";
  var dbPromise = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = window.indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          var store = request.result.createObjectStore("queue", { keyPath: "scan_id" });
          store.createIndex("seq", "seq");
          request.result.createObjectStore("refused", { keyPath: "scan_id" });
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function tx(storeName, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction(storeName, mode);
        var result = work(transaction.objectStore(storeName));
        transaction.oncomplete = function () { resolve(result && "result" in result ? result.result : result); };
        transaction.onerror = function () { reject(transaction.error); };
        transaction.onabort = function () { reject(transaction.error); };
      });
    });
  }

  function mine(items) {
    return items.filter(function (item) { return item.user === config.user; });
  }

  function queued() {
    return tx("queue", "readonly", function (store) { return store.index("seq").getAll(); }).then(mine);
  }

  function addToQueue(item) { return tx("queue", "readwrite", function (store) { store.put(item); }); }
  function removeFromQueue(scanId) { return tx("queue", "readwrite", function (store) { store.delete(scanId); }); }
  function addRefused(item) { return tx("refused", "readwrite", function (store) { store.put(item); }); }
  function removeRefused(scanId) { return tx("refused", "readwrite", function (store) { store.delete(scanId); }); }
  function refusedItems() { return tx("refused", "readonly", function (store) { return store.getAll(); }).then(mine); }

  var seq = Date.now() * 1000;
  var draining = false;
  var retryTimer = null;
  var retryDelay = 2000;
  var sessionLost = false;
  var RECENT_MS = 15000;  // a result this soon after the scan gets the full sound and message

  function recent(item) { return Date.now() - Date.parse(item.scanned_at) < RECENT_MS; }

  function showWaiting() {
    return queued().then(function (items) {
      var count = items.length;
      waitingEl.textContent = count ? count + " waiting" + (sessionLost ? ": log in again to send them" : navigator.onLine ? "" : " (offline)") : "";
      waitingEl.classList.toggle("d-none", count === 0);
      try { window.localStorage.setItem("tracetrack.waiting", String(count)); } catch (e) { /* private mode */ }
      return count;
    });
  }

  function renderRefused() {
    return refusedItems().then(function (items) {
      refusedList.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "list-group-item py-1 d-flex justify-content-between gap-2 align-items-start";
        var text = document.createElement("span");
        text.textContent = item.code + " \u2192 " + item.parent + ": " + item.reason;
        var dismiss = document.createElement("button");
        dismiss.type = "button";
        dismiss.className = "btn btn-sm btn-outline-secondary";
        dismiss.textContent = "Dealt with";
        dismiss.addEventListener("click", function () { removeRefused(item.scan_id).then(renderRefused).then(refocus); });
        li.appendChild(text);
        li.appendChild(dismiss);
        refusedList.appendChild(li);
      });
      refusedCard.classList.toggle("d-none", items.length === 0);
    });
  }

  function scheduleRetry() {
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(function () { retryTimer = null; drain(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  // Queued scans of the open parent appear in its list, marked as not yet sent; a scan that
  // had to wait is answered quietly when it gets through, and listed if it is refused.
  function markWaiting(items) {
    var saves = items.filter(function (item) { return !item.waited; }).map(function (item) {
      item.waited = true;
      return addToQueue(item);
    });
    items.forEach(function (item) {
      if (parent && item.parent === parent.code && !childrenList.querySelector('[data-code="' + item.code + '"]')) {
        childrenList.insertBefore(childItem(item.code, true), childrenList.firstChild);
      }
    });
    return Promise.all(saves).then(showWaiting);
  }

  // Send the queue, oldest first, one at a time; stop at the first scan that cannot get
  // through, and try again later. Each scan goes to the parent it was scanned for.
  function drain() {
    if (draining || sessionLost) { return Promise.resolve(); }
    draining = true;
    function next() {
      return queued().then(function (items) {
        if (!items.length) { retryDelay = 2000; return null; }
        var item = items[0];
        var live = recent(item) && !item.waited;
        return send("/scans/child", { parent: item.parent, code: item.code, scan_id: item.scan_id, scanned_at: item.scanned_at })
          .then(function (answer) { return renewIfNeeded(answer, item); })
          .then(function (answer) {
            var error = answer.body && answer.body.error;
            if (answer.status >= 200 && answer.status < 300) {
              return removeFromQueue(item.scan_id).then(function () {
                if (live) { handleSuccess(answer); } else { quietSuccess(answer); }
                return next();
              });
            }
            if (answer.status === 401) {
              sessionLost = true;
              say("error", "Your session has ended. Log in again: the waiting scans are kept and will be sent after.");
              play("error");
              showLoginLink();
              return null;
            }
            if (answer.status === 0 || answer.status === 502 || answer.status === 503 || answer.status === 504 || (answer.status === 400 && error && error.code === "csrf_failed")) {
              scheduleRetry();
              return markWaiting(items).then(function (count) {
                if (live) {
                  say("duplicate", "The server cannot be reached: " + count + " scan" + (count === 1 ? " is" : "s are") + " saved on this device and will be sent when it answers. Keep scanning.", true);
                  play("duplicate");
                }
                return null;
              });
            }
            // Refused (409, 404, 422, 429...): listed for the worker with the reason.
            return removeFromQueue(item.scan_id).then(function () {
              if (live) {
                handleFailure(answer, item.code);
                return next();
              }
              say("error", item.code + " was refused when it was sent: see \u201cNot saved\u201d.");
              return addRefused({ scan_id: item.scan_id, code: item.code, parent: item.parent, user: item.user,
                                  reason: error ? error.message : "Refused (" + answer.status + ")", at: new Date().toISOString() })
                .then(function () { play("error"); logResult("error", item.code + " not saved: " + (error ? error.message : answer.status)); })
                .then(renderRefused).then(next);
            });
          });
      });
    }
    return next().catch(function () { scheduleRetry(); }).then(function () {
      draining = false;
      return showWaiting();
    }).then(function (count) {
      if (count === 0 && sentQuietly > 0 && waitingMessage) {
        say("ok", "Connection back: " + sentQuietly + " waiting scan" + (sentQuietly === 1 ? " was" : "s were") + " sent. Keep scanning.");
      }
      if (count === 0) { sentQuietly = 0; }
      return count;
    });
  }

  function renewIfNeeded(answer, item) {
    var error = answer.body && answer.body.error;
    if (answer.status === 400 && error && error.code === "csrf_failed") {
      return renewCsrfToken().then(function () {
        return send("/scans/child", { parent: item.parent, code: item.code, scan_id: item.scan_id, scanned_at: item.scanned_at });
      }, function () { return answer; });
    }
    return Promise.resolve(answer);
  }

  // A scan sent from the queue after an outage: the worker has moved on, so no loud message.
  var sentQuietly = 0;

  function quietSuccess(answer) {
    var p = answer.body.parent;
    sentQuietly += 1;
    countMyScan(answer.body.result);
    var child = answer.body.child ? answer.body.child.code : "";
    if (parent && p.code === parent.code) {
      updateCounts(p);
      markSent(child);
    }
    logResult("ok", child + " sent to " + p.code + " (" + answer.body.result.replace("_", " ") + ")");
  }

  function markSent(code) {
    Array.prototype.slice.call(childrenList.children).forEach(function (item) {
      if (item.dataset.code === code) { item.classList.remove("waiting-item"); }
    });
  }

  function showLoginLink() {
    var link = document.createElement("a");
    link.href = config.loginUrl;
    link.className = "btn btn-sm btn-warning ms-2";
    link.textContent = "Log in";
    messageEl.appendChild(link);
  }

  // ---- results --------------------------------------------------------------------------
  function handleFailure(answer, code) {
    var error = answer.body && answer.body.error;
    if (answer.status === 401) {
      say("error", "Your session has ended. Log in again, then scan " + (code || "the bag") + " again.");
      play("error");
      window.setTimeout(function () { window.location.href = config.loginUrl; }, 2500);
      return;
    }
    if (!error) {
      var text = "Not saved: the server cannot be reached. Scan " + (code || "it") + " again when the connection is back.";
      say("error", text);
      logResult("error", text);
      play("error");
      return;
    }
    if (error.parent) { updateCounts(error.parent); }
    if (error.code === "under_capacity") {
      showConfirm(error.message);
      say("duplicate", error.message);
      play("duplicate");
      return;
    }
    say("error", error.message);
    logResult("error", error.message);
    play("error");
  }

  function handleSuccess(answer) {
    var body = answer.body;
    var p = body.parent;
    var child = body.child ? body.child.code : "";
    switch (body.result) {
      case "parent_created":
      case "parent_opened":
        setParent(p, p.children || []);
        if (p.status === "complete") {
          say("complete", p.code + " is complete (" + p.child_count + " / " + p.capacity + "). Scan a new parent, or ask a supervisor to reopen it.");
          play("duplicate");
        } else {
          say("info", (body.result === "parent_created" ? "New parent " : "Parent ") + p.code + " (" + p.child_count + " / " + p.capacity + "). Scan its bags.");
          play("info");
        }
        logResult("info", p.code + (body.result === "parent_created" ? " started" : " opened"));
        break;
      case "linked":
      case "replayed":
        countMyScan(body.result);
        if (parent && p.code === parent.code && child) {
          markSent(child);
          if (!childrenList.querySelector('[data-code="' + child + '"]')) { childrenList.insertBefore(childItem(child), childrenList.firstChild); }
        }
        updateCounts(p);
        if (p.status === "complete") {
          say("complete", p.code + " is complete with " + p.child_count + " bags. Scan the next parent.");
          play("complete");
          logResult("complete", child + " added; " + p.code + " complete");
        } else {
          say("ok", child + " added (" + p.child_count + " / " + p.capacity + ").");
          play("ok");
          logResult("ok", child + " added to " + p.code);
        }
        break;
      case "already_linked":
        updateCounts(p);
        say("duplicate", child + " is already in " + p.code + ". Scan the next bag.");
        play("duplicate");
        logResult("duplicate", child + " already in " + p.code);
        break;
      case "unlinked":
        Array.prototype.slice.call(childrenList.children).forEach(function (item) {
          if (item.textContent === child) { childrenList.removeChild(item); }
        });
        updateCounts(p);
        say("info", child + " taken out of " + p.code + " (" + p.child_count + " / " + p.capacity + "). Put it aside.");
        play("info");
        logResult("info", child + " undone");
        break;
      case "completed":
        updateCounts(p);
        say("complete", p.code + " is complete with " + p.child_count + " bags. Scan the next parent.");
        play("complete");
        logResult("complete", p.code + " finished");
        break;
      default:
        say("info", body.result);
    }
  }

  function settle(code) {
    return function (answer) {
      if (answer.status >= 200 && answer.status < 300) { handleSuccess(answer); } else { handleFailure(answer, code); }
      refocus();
    };
  }

  // ---- actions --------------------------------------------------------------------------
  function scan(raw) {
    var code = normalise(raw);
    if (!code) { return Promise.resolve(); }
    var asParent = !parent || parent.status !== "open" || config.parentPattern.test(code);
    if (asParent) {
      return post("/scans/parent", { code: raw }).then(settle(code));
    }
    // Durable first, then sent: a reload, a crash or a dropped connection loses nothing.
    var item = { scan_id: newScanId(), parent: parent.code, code: code, user: config.user,
                 scanned_at: new Date().toISOString(), seq: seq++ };
    return addToQueue(item).then(function () {
      if (!navigator.onLine || retryTimer !== null || sessionLost) {
        // Known to be cut off: keep it and go on, without waiting for a time-out per scan.
        return queued().then(markWaiting).then(function (count) {
          say("duplicate", code + " saved on this device; " + count + " waiting. They will be sent when the connection is back.", true);
          play("duplicate");
          logResult("duplicate", code + " waiting to be sent");
        });
      }
      return drain();
    });
  }

  function undoLast() {
    if (!parent) { return Promise.resolve(); }
    return post("/scans/undo", { parent: parent.code }).then(settle(null));
  }

  function finish(force) {
    if (!parent) { return Promise.resolve(); }
    confirmPanel.classList.add("d-none");
    return post("/parents/" + encodeURIComponent(parent.code) + "/complete", { force: force }).then(settle(null));
  }

  function enqueue(task) {
    setPending(1);
    chain = chain.then(task).catch(function () {
      say("error", "Something went wrong on this page. Reload it, then scan the last bag again.");
    }).then(function () { setPending(-1); });
    resetIdle();
  }

  function resetIdle() {
    window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(function () {
      if (pending > 0 || !parent) { return; }
      parent = null;
      renderChildren([]);
      renderParent();
      say("idle", "Idle for a while: scan a PARENT bag to continue.");
    }, config.idleMs);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var action = event.submitter && event.submitter.value ? event.submitter.value : "scan";
    if (action === "undo") {
      enqueue(undoLast);
    } else if (action === "finish" || action === "finish_short") {
      var short = parent && parent.child_count < parent.capacity;
      if (action === "finish" && short) {
        showConfirm(parent.code + " has " + parent.child_count + " of " + parent.capacity +
                    " bags. Finish it short? Scanning a bag goes on filling it.");
        return;
      }
      enqueue(function () { return finish(true); });
    } else {
      var raw = input.value;
      input.value = "";
      if (raw.trim()) {
        if (confirmShown()) {  // a scan answers "Finish it short?" with "no": keep filling
          confirmPanel.classList.add("d-none");
        }
        enqueue(function () { return scan(raw); });
      }
    }
    refocus();
  });

  confirmNo.addEventListener("click", function (event) {
    event.preventDefault();
    confirmPanel.classList.add("d-none");
    refocus();
  });

  newParentButton.addEventListener("click", function (event) {
    event.preventDefault();
    parent = null;
    renderChildren([]);
    renderParent();
    say("idle", "Scan a PARENT bag to start.");
    refocus();
  });

  // The input keeps focus: after clicks elsewhere, after the window regains focus, and
  // after it loses focus to anything but a control the worker chose.
  document.addEventListener("click", function (event) {
    if (!event.target.closest("button, a, input, select, textarea, label")) { refocus(); }
  });
  input.addEventListener("blur", function () {
    window.setTimeout(function () {
      var active = document.activeElement;
      if (!active || active === document.body) { refocus(); }
    }, 150);
  });
  window.addEventListener("focus", refocus);
  document.addEventListener("keydown", function () { audioContext(); }, { once: true });

  window.addEventListener("online", function () {
    window.clearTimeout(retryTimer);
    retryTimer = null;
    retryDelay = 2000;
    showWaiting().then(drain);
  });
  window.addEventListener("offline", showWaiting);

  renderParent();
  refocus();
  resetIdle();
  if (window.indexedDB) {
    renderRefused();
    showWaiting().then(function (count) { if (count && navigator.onLine) { drain(); } });
  }
})();
