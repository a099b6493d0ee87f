/* The durable queue of child scans (IndexedDB): every child scan is written here first and
 * sent from here, oldest first, so a reload, a crash or a dropped connection loses nothing.
 * Scans the server refused on replay are kept in "refused" until the worker has dealt with
 * them. Each station user sees only their own items. */

const DB_NAME = "tracetrack-station";
let dbPromise = null;

export const available = Boolean(window.indexedDB);

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = window.indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore("queue", { keyPath: "scan_id" });
        store.createIndex("seq", "seq");
        request.result.createObjectStore("refused", { keyPath: "scan_id" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return dbPromise;
}

async function tx(storeName, mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(storeName, mode);
    const result = work(transaction.objectStore(storeName));
    transaction.oncomplete = () => resolve(result && "result" in result ? result.result : result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

let seq = Date.now() * 1000;

export function newScanId() {
  if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
}

export function createQueue(user) {
  const mine = (items) => items.filter((item) => item.user === user);
  return {
    newItem(parent, code) {
      return { scan_id: newScanId(), parent, code, user, scanned_at: new Date().toISOString(), seq: seq++ };
    },
    items: () => tx("queue", "readonly", (store) => store.index("seq").getAll()).then(mine),
    put: (item) => tx("queue", "readwrite", (store) => { store.put(item); }),
    remove: (scanId) => tx("queue", "readwrite", (store) => { store.delete(scanId); }),
    addRefused: (item) => tx("refused", "readwrite", (store) => { store.put(item); }),
    removeRefused: (scanId) => tx("refused", "readwrite", (store) => { store.delete(scanId); }),
    refused: () => tx("refused", "readonly", (store) => store.getAll()).then(mine)
  };
}
