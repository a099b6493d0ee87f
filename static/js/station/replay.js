/* Sending the queue (queue.js): the waiting scans go to the server in batches
 * (POST /scans/batch: at most 100 scans of one parent, in the order they were made, each
 * saved or refused on its own), and each comes back as the answer a single scan would have
 * had, so station.js deals with it exactly as before. A scan just made, alone in the queue,
 * still goes as a single scan (/scans/child).
 *
 * send() answers {failed} when nothing was decided for any scan (no answer, session ended,
 * CSRF token to renew, too many scans for now: the scans stay queued), else {answers}: one
 * {item, answer} per scan sent, in order. */
import { errorOf, unreachable } from "./sender.js";

export const MAX_BATCH = 100;

// The oldest scan, and the scans right after it for the same parent.
export function nextGroup(items, isLive) {
  const first = items[0];
  if (items.length === 1 && isLive(first)) { return { items: [first], single: true }; }
  const group = [];
  for (const item of items) {
    if (item.parent !== first.parent || group.length === MAX_BATCH) { break; }
    group.push(item);
  }
  return { items: group, single: false };
}

function notDecided(sender, answer) {
  return answer.status === 401 || answer.status === 429 || unreachable(answer) || sender.csrfFailed(answer);
}

// One scan's part of a batch's answer, shaped like a single scan's answer.
function answerOf(result) {
  if (result.error) { return { status: 409, body: { error: result.error }, retryAfter: 0 }; }
  return { status: result.result === "linked" ? 201 : 200, retryAfter: 0,
           body: { result: result.result, parent: result.parent, child: { code: result.code } } };
}

const scanOf = (item) => ({ code: item.code, scan_id: item.scan_id, scanned_at: item.scanned_at });

export async function send(sender, group) {
  const items = group.items;
  if (group.single) {
    const item = items[0];
    const answer = await sender.post("/scans/child", { parent: item.parent, ...scanOf(item) }, { retries: 0 });
    return notDecided(sender, answer) ? { failed: answer } : { answers: [{ item, answer }] };
  }
  const answer = await sender.post("/scans/batch", { parent: items[0].parent, items: items.map(scanOf) }, { retries: 0 });
  if (notDecided(sender, answer)) { return { failed: answer }; }
  if (answer.status !== 200 || !Array.isArray(answer.body.results)) {
    // The whole batch was refused (which the station's own batches never are): each scan
    // is refused with that reason, as it would have been alone.
    const refusal = errorOf(answer) ? answer : { status: answer.status, body: {}, retryAfter: 0 };
    return { answers: items.map((item) => ({ item, answer: refusal })) };
  }
  const results = answer.body.results;
  return { answers: items.slice(0, results.length).map((item, i) => ({ item, answer: answerOf(results[i]) })) };
}
