// A client that fell behind a shared origin body (coalesce/shared-body.ts sheds
// it rather than let it pace the fill and the other clients) continues from the
// stored copy once the fill has committed: the bytes it still lacks are read from
// the store (a disk body reads only them). If the entry is not there with the same
// bytes — the fill failed, or was kept out of the store (a purge while it ran) and
// another response took its place — the client's connection is cut: it never
// receives bytes of another response. A response stored meanwhile with the same
// strong ETag and length has the same bytes (RFC 9110 §8.8.1: a strong validator
// changes whenever the representation data does): the client continues from it.
// A variant made from a shared body (pipeline/variants.ts) reads it the same way:
// its reader is shed like such a client and continues from the stored source.

import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { SharedBody } from '../coalesce/shared-body.js';
import type { EntryMeta, Store, StoredEntry } from '../store/types.js';
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
  const entry = await storedCopy(store, stored, offset);
  if (!entry) {
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

/**
 * Another response under `stored`'s key (storedCopy looks it up by it) whose bytes are `stored`'s: the same
 * strong ETag, status, coding and length. Never a variant Strata made (its bytes change under one ETag when
 * recompressed) nor a weak ETag's.
 */
function sameBytes(entry: StoredEntry, stored: EntryMeta): boolean {
  const etag = stored.headers['etag'];
  const meta = entry.meta;
  return (
    etag !== undefined &&
    !etag.startsWith('W/') &&
    meta.headers['etag'] === etag &&
    meta.status === stored.status &&
    meta.transform === undefined &&
    stored.transform === undefined &&
    meta.headers['content-encoding'] === stored.headers['content-encoding'] &&
    // Unknown when the fill began (no Content-Length): the client was sent chunks, and the ETag vouches for the end.
    (stored.bodySize < 0 || entry.body.size === stored.bodySize)
  );
}

/** The stored copy of `stored` (that response, or one with the same bytes: sameBytes), when it holds at least `offset` bytes. */
export async function storedCopy(store: Store, stored: EntryMeta, offset: number): Promise<StoredEntry | undefined> {
  const entry = store.peek(stored.key) ?? (await store.get(stored.key).catch(() => undefined));
  return entry && (sameResponse(entry.meta, stored) || sameBytes(entry, stored)) && offset <= entry.body.size ? entry : undefined;
}

/**
 * `body` (being stored as `stored`) as a Readable from its first byte that never paces it:
 * when it is the slowest consumer of a full window it is shed, and continues once `body`
 * is sealed from the stored copy, at the byte it had reached. Not stored as that
 * response: it fails (its reader's client is cut, as resumeFromStore cuts one).
 * Undefined when the start of `body` is gone. Destroying it detaches it wherever it reads.
 */
export function resumingReader(store: Store, body: SharedBody, stored: EntryMeta): Readable | undefined {
  let more: (() => void) | undefined;
  let detach: (() => void) | undefined;
  /** The stored copy's stream, once shed. */
  let rest: Readable | undefined;
  let pushed = 0;
  const r = new Readable({
    read() {
      if (rest) return void rest.resume();
      const m = more;
      more = undefined;
      m?.();
    },
    destroy(err, cb) {
      detach?.();
      rest?.destroy();
      cb(err);
    },
  });
  const push = (chunk: Buffer): boolean => {
    pushed += chunk.length;
    return r.push(chunk);
  };
  const continueFromStore = async (): Promise<void> => {
    await body.sealedAt;
    if (r.destroyed) return;
    const entry = await storedCopy(store, stored, pushed);
    if (r.destroyed) return;
    if (!entry) return void r.destroy(new Error('fell behind the shared body, and its stored copy is not there with the same bytes'));
    if (pushed === entry.body.size) return void r.push(null);
    const s = entry.body.stream(pushed, entry.body.size - 1);
    rest = s;
    s.on('data', (chunk: Buffer) => {
      if (!r.push(chunk)) s.pause();
    });
    s.once('end', () => r.push(null));
    s.once('error', (err) => r.destroy(err));
  };
  detach = body.consume({
    chunk: (chunk, next) => {
      if (push(chunk)) return true;
      more = next;
      return false;
    },
    end: (last) => {
      if (last) push(last);
      r.push(null);
    },
    error: (err) => r.destroy(err),
    lagging: () => {
      more = undefined;
      void continueFromStore();
    },
  });
  return detach ? r : undefined;
}
