// Pieces of slicing (pipeline/slices.ts) that hold no state: what a version of an
// object is, the object's fields built from a slice's, why a slice fetch gave no
// slice, and a slice body trimmed to the bytes an answer reads.

import type { Readable } from 'node:stream';
import { REQUEST_SPECIFIC_REASONS } from '../cache/storable.js';
import type { HeaderMap } from '../http/headers.js';
import type { EntryMeta } from '../store/types.js';
import type { FetchOutcome } from './fetch-and-store.js';

/** Why a slice fetch gave no slice, for logs and Cache-Status. */
export function whyNot(o: FetchOutcome): string {
  if (o.kind === 'failed') return o.error.code.toLowerCase();
  if (o.kind === 'validated') return 'validated';
  if (o.kind === 'passing') return o.reason;
  return o.kind === 'storing' ? `status-${o.status}` : o.kind;
}

/**
 * Whether a slice fetch's outcome says something about the object (it changed, lost
 * range support, refuses storing): the origin failing (no answer, a 5xx) says nothing
 * of it, nor does a refusal that is this request's own.
 */
export function newsOfObject(o: FetchOutcome): boolean {
  if (o.kind === 'storing') return true;
  return o.kind === 'passing' && o.status < 500 && !REQUEST_SPECIFIC_REASONS.has(o.reason);
}

/**
 * The object's response fields, as a whole 200 would carry them. The first slice's
 * digests of its own bytes (Content-Digest, RFC 9530; the obsolete Content-MD5 and
 * Digest) would be wrong on the whole object and on any other range: dropped.
 * Repr-Digest covers the whole representation and stays.
 */
export function objectHeaders(meta: EntryMeta): HeaderMap {
  const h: HeaderMap = { ...meta.headers };
  for (const name of ['content-range', 'content-digest', 'content-md5', 'digest']) delete h[name];
  h['content-length'] = String(meta.slice!.totalBytes);
  return h;
}

/** One version of the object: its validator and its complete length (a grown object may keep its ETag). */
export type SliceVersion = Pick<NonNullable<EntryMeta['slice']>, 'validator' | 'totalBytes'>;

export function sameVersion(a: SliceVersion, b: SliceVersion): boolean {
  return a.validator === b.validator && a.totalBytes === b.totalBytes;
}

export class SliceChangedError extends Error {
  readonly code = 'ESLICECHANGED';
}

/** Bytes [from, to] of one shared slice body (relative to the slice), read as they arrive. */
export async function* trimmed(reader: Readable, from: number, to: number): AsyncGenerator<Buffer> {
  let at = 0;
  try {
    for await (const chunk of reader as AsyncIterable<Buffer>) {
      const next = at + chunk.length;
      if (next > from) yield chunk.subarray(Math.max(0, from - at), Math.min(chunk.length, to - at + 1));
      at = next;
      if (at > to) return;
    }
    if (at <= to) throw new SliceChangedError(`slice ended after ${at} bytes, ${to + 1} expected`);
  } finally {
    // Leaving early detaches this reader only: the slice's cache fill goes on.
    reader.destroy();
  }
}
