/* The one way the station talks to the server: a JSON POST that renews an expired CSRF
 * token once, and retries what a resend cannot double (no answer, 502, 503, 504) with a
 * growing wait. It never throws: every outcome is {status, body, retryAfter}, status 0
 * meaning "no answer". */

const TIMEOUT_MS = 10000;
const MAX_WAIT_MS = 8000;

export function unreachable(answer) {
  return answer.status === 0 || answer.status === 502 || answer.status === 503 || answer.status === 504;
}

export function errorOf(answer) {
  return answer.body && answer.body.error ? answer.body.error : null;
}

function csrfFailed(answer) {
  const error = errorOf(answer);
  return answer.status === 400 && error !== null && error.code === "csrf_failed";
}

function sleep(ms) { return new Promise((resolve) => { window.setTimeout(resolve, ms); }); }

export function createSender({ apiBase, sessionUrl }) {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');

  async function renewCsrfToken() {
    const response = await fetch(sessionUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) { throw new Error("session " + response.status); }
    const body = await response.json();
    csrfMeta.setAttribute("content", body.csrf_token);
  }

  async function sendOnce(path, body) {
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(apiBase + path, {
        method: "POST",
        credentials: "same-origin",
        signal: controller.signal,
        headers: { "Content-Type": "application/json", Accept: "application/json",
                   "X-CSRFToken": csrfMeta.getAttribute("content") },
        body: JSON.stringify(body)
      });
      const json = await response.json().catch(() => ({}));
      return { status: response.status, body: json,
               retryAfter: parseInt(response.headers.get("Retry-After") || "0", 10) };
    } catch (error) {
      return { status: 0, body: {}, retryAfter: 0 };
    } finally {
      window.clearTimeout(timer);
    }
  }

  /* retries: how many times to resend when the server cannot be reached (the offline queue
   * passes 0: it keeps the scan and tries again later itself). onRetry(attempt, retries) is
   * told before each wait. */
  async function post(path, body, { retries = 5, onRetry = null } = {}) {
    let renewed = false;
    let attempt = 0;
    for (;;) {
      const answer = await sendOnce(path, body);
      if (csrfFailed(answer) && !renewed) {
        renewed = true;
        try { await renewCsrfToken(); } catch (error) { return answer; }
        continue;
      }
      if (!unreachable(answer) || attempt >= retries) { return answer; }
      attempt += 1;
      if (onRetry) { onRetry(attempt, retries); }
      await sleep(Math.min(Math.max(answer.retryAfter * 1000, 500 * 2 ** (attempt - 1)), MAX_WAIT_MS));
    }
  }

  return { post, csrfFailed };
}
