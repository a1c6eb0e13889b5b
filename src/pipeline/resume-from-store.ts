// A client that fell behind a shared origin body (coalesce/shared-body.ts sheds
// it rather than let it pace the fill and the other clients) continues from the
// stored copy once the fill has committed: the bytes it still lacks are read from
// the store (a disk body reads only them). If the entry is not there as the same
// response — the fill failed, or a newer response replaced it meanwhile — the
// client's connection is cut: it never receives bytes of another response.

import type { ServerResponse } from 'node:http';
import type { EntryMeta, Store } from '../store/types.js';
import { sendBody, type ByteTally } from './send-body.js';

function sameResponse(a: EntryMeta, b: EntryMeta): boolean {
  if (a === b) return true;
  return (
    a.key === b.key &&
    // A variant recompressed meanwhile holds other bytes (transform/recompress.ts).
    a.transform?.level === b.transform?.level &&
    a.requestTimeMs === b.requestTimeMs &&
    a.responseTimeMs === b.responseTimeMs &&
    a.headers['etag'] === b.headers['etag'] &&
    a.headers['last-modified'] === b.headers['last-modified'] &&
    a.headers['date'] === b.headers['date']
  );
}

/** Send bytes [offset, end) of the stored copy of `stored` once `sealed` resolves; resolves with the bytes sent (counted into `tally` as written). */
export async function resumeFromStore(store: Store, stored: EntryMeta, sealed: Promise<void>, res: ServerResponse, offset: number, tally: ByteTally): Promise<{ sent: number; complete: boolean }> {
  await sealed;
  if (res.destroyed) return { sent: 0, complete: false };
  const entry = store.peek(stored.key) ?? (await store.get(stored.key).catch(() => undefined));
  if (!entry || !sameResponse(entry.meta, stored) || offset > entry.body.size) {
    res.destroy();
    return { sent: 0, complete: false };
  }
  const left = entry.body.size - offset;
  if (left === 0) {
    res.end();
    return { sent: 0, complete: true };
  }
  // A stored body failing mid-stream cuts the connection (sendBody): it must not look complete.
  const r = await sendBody(entry.body.stream(offset, entry.body.size - 1), res, tally);
  return { sent: r.sent, complete: r.complete };
}
