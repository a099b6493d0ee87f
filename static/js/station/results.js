/* "Last results": the newest line on top with its time, at most MAX_RESULTS kept. Shared by
 * the scan station (view.js) and the loading station (dispatch/loading.js). */

export const MAX_RESULTS = 12;

export function prependResult(list, kind, text) {
  const item = document.createElement("li");
  item.className = "list-group-item py-1 result-" + kind;
  const time = document.createElement("span");
  time.className = "text-secondary me-2 small";
  time.textContent = window.tracetrackTime ? window.tracetrackTime.clock() : "";
  item.append(time, document.createTextNode(text));
  list.prepend(item);
  while (list.children.length > MAX_RESULTS) { list.lastChild.remove(); }
}
