// Writing answers to the client: stored responses (full, HEAD, 304, 206, 416),
// the fields of forwarded responses, one 304 rule and Strata's own errors. Adds
// Age, Cache-Status and Via. (pipeline/answer.ts streams forwarded bodies.)
// The stored part of a hit's header block is built once per stored metadata
// object and reused, so a hit does little more than a bare server's answer: a
// whole-body answer's field list is kept whole with its per-answer values (Age,
// Cache-Status, Content-Length) written into it in place before writeHead, which
// reads the list and keeps nothing of it (node:http builds its head string from it;
// node:http2's compatibility path, ../server/h2-response.ts, copies it).

import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StrataError } from '../errors.js';
import { isNotModified, NOT_MODIFIED_FIELDS } from '../http/conditionals.js';
import { CONTENT_DIGEST_FIELDS, PEER_AGE, PEER_SOFT_PURGED, toRawPairs, withoutHopByHop, type HeaderMap } from '../http/headers.js';
import { dropsContentLength } from '../http/no-content.js';
import { ifRangeAllows, parseRanges, type ByteRange } from '../http/range.js';
import type { Body, EntryMeta, StoredEntry } from '../store/types.js';
import { presentedHeaders } from '../transform/variant-meta.js';
import { multipartBuffer, multipartStream, planMultipart } from './byteranges.js';

export interface DeliverOptions {
  /** Field names never sent to clients (targeted cache fields unless passed through). */
  hiddenFields: ReadonlySet<string>;
  /**
   * Stored fields as writeHead pairs, built once per stored metadata object (a 304
   * refresh makes a new object). Kept with the options it depends on, not in a global.
   */
  headerCache: WeakMap<EntryMeta, StoredHead>;
  /** This node's Via member, e.g. "1.1 edge-1". */
  via: string;
  /** Answers to a peer: the Age to the millisecond too (PEER_AGE). */
  peerAge?: boolean;
  /** Answers to a peer: when its request arrived (this node's clock), the instant PEER_AGE is told as of. */
  peerAskedAtMs?: number;
}

/** The fields every answer from one stored metadata object starts with, built on its first answer. */
export interface StoredHead {
  /** Stored fields as raw pairs plus Via (and Accept-Ranges on a 200). */
  base: string[];
  /**
   * A whole-body answer's fields: `base`, then Age, Cache-Status and (not on a 204)
   * Content-Length, whose values are written in place for each answer.
   */
  whole: string[];
  /** The body size whose Content-Length value `whole` holds (-1: none yet). */
  wholeSize: number;
  /** Where in `whole` the value of PEER_AGE goes (answers to peers), else -1; PEER_SOFT_PURGED's, when the entry was soft-purged, right after it. */
  peerAgeAt: number;
  /** `base` for a 206, built on the first: without the digests of the whole body's content (partialFields). */
  partial?: string[];
}

/**
 * Age in whole seconds (RFC 9111 §5.1) and, to a peer (opts.peerAge), PEER_AGE.
 * `ageS`: currentAge(meta, now).
 */
export function ageFields(meta: EntryMeta, ageS: number, opts: DeliverOptions): string[] {
  const age = String(Math.max(0, Math.floor(ageS)));
  if (!opts.peerAge) return ['age', age];
  const out = ['age', age, PEER_AGE, peerAgeValue(meta, ageS, opts.peerAskedAtMs)];
  if (meta.softPurgedAtMs !== undefined) out.push(PEER_SOFT_PURGED, softPurgedValue(meta, ageS, opts.peerAskedAtMs));
  return out;
}

/** PEER_SOFT_PURGED's value: milliseconds from the soft purge to when the peer's request arrived (as peerAgeValue). */
function softPurgedValue(meta: EntryMeta, ageS: number, askedAtMs: number | undefined): string {
  return String(Math.max(0, Math.floor(answeredAsOf(meta, ageS, askedAtMs) - meta.softPurgedAtMs!)));
}

/**
 * The instant a peer's answer speaks as of: when its request arrived (`askedAtMs`), or now
 * if that is later; `now` derived from `ageS` (currentAge: initialAgeS + now - responseTimeMs).
 */
function answeredAsOf(meta: EntryMeta, ageS: number, askedAtMs: number | undefined): number {
  const nowMs = meta.responseTimeMs + (ageS - meta.initialAgeS) * 1000;
  return askedAtMs !== undefined && askedAtMs < nowMs ? askedAtMs : nowMs;
}

/**
 * Milliseconds since the cluster took this content from the origin: since this node
 * asked for it (requestTimeMs), plus what it had already spent in the cluster when it
 * came from a peer (that peer's PEER_AGE, kept with the copy). Not the RFC age: that
 * one counts from the origin's Date (whole seconds) and the origin's own Age, and a
 * purge only asks that the cluster go to the origin again. Told as of when the peer's
 * request arrived (`askedAtMs`), not when the answer is written: the asker subtracts it
 * from when it asked, which came before the arrival, so its estimate stays no later
 * than the real departure; measured at the answer instead, a fill the request joined
 * while the origin was still sending looked older by the origin's whole latency, and
 * was refused after any purge applied just before it began. `now` is derived from
 * `ageS` (currentAge: initialAgeS + now - responseTimeMs); rounded up.
 */
function peerAgeValue(meta: EntryMeta, ageS: number, askedAtMs: number | undefined): string {
  const at = answeredAsOf(meta, ageS, askedAtMs);
  const inCluster = Number(meta.headers[PEER_AGE] ?? 0);
  return String(Math.max(0, Math.ceil(at - meta.requestTimeMs + (Number.isFinite(inCluster) ? inCluster : 0))));
}

export interface StoredAnswer {
  status: number;
  /** Body bytes handed to the client (a stream cut mid-way: those written before the cut). */
  bodyBytes: number;
}

/**
 * The request a stored entry answers, and where the body bytes written to it are
 * counted as they are written (the request context): the access line is written at
 * the response's close, which for a streamed body can come before its promise settles.
 */
export interface StoredRequest {
  method: string;
  headers: HeaderMap;
  bytes: number;
}

/**
 * Stored fields as raw pairs for writeHead, without fields the client must not see,
 * plus what depends only on the entry (Via; Accept-Ranges on a 200): a hit adds
 * only Age and Cache-Status.
 */
export function baseHeaders(meta: EntryMeta, opts: DeliverOptions): string[] {
  return storedHead(meta, opts).base;
}

function storedHead(meta: EntryMeta, opts: DeliverOptions): StoredHead {
  let head = opts.headerCache.get(meta);
  if (head) return head;
  const visible: HeaderMap = {};
  // Coding-keyed entries and made variants: Vary and ETag as clients see them (transform/variant-meta.ts).
  const stored = presentedHeaders(meta);
  for (const name in stored) {
    if (opts.hiddenFields.has(name) || name === 'content-length' || name === 'via' || name === 'accept-ranges') continue;
    visible[name] = stored[name]!;
  }
  const raw = toRawPairs(visible);
  raw.push('via', viaValue(meta.headers['via'], opts.via));
  if (meta.status === 200) raw.push('accept-ranges', 'bytes');
  const whole = raw.concat('age', '', 'cache-status', '');
  if (meta.status !== 204) whole.push('content-length', '');
  let peerAgeAt = -1;
  if (opts.peerAge) {
    whole.push(PEER_AGE, '');
    peerAgeAt = whole.length - 1;
    // A soft purge makes a new metadata object (cache/soft-purge.ts), so a new head.
    if (meta.softPurgedAtMs !== undefined) whole.push(PEER_SOFT_PURGED, '');
  }
  head = { base: raw, whole, wholeSize: -1, peerAgeAt };
  opts.headerCache.set(meta, head);
  return head;
}

/** `head.whole` with this answer's values in it, for writeHead (which keeps nothing of it). */
function wholeFields(head: StoredHead, meta: EntryMeta, ageS: number, cacheStatus: string, size: number, askedAtMs: number | undefined): string[] {
  const f = head.whole;
  const at = head.base.length;
  f[at + 1] = String(Math.max(0, Math.floor(ageS)));
  f[at + 3] = cacheStatus;
  // RFC 9110 §8.6: no Content-Length on 204 (no slot for it then).
  if (head.wholeSize !== size && f[at + 4] === 'content-length') {
    f[at + 5] = String(size);
    head.wholeSize = size;
  }
  if (head.peerAgeAt >= 0) {
    f[head.peerAgeAt] = peerAgeValue(meta, ageS, askedAtMs);
    // Its slot exists only in a head built for a soft-purged entry (never written past the list's end).
    if (f[head.peerAgeAt + 1] === PEER_SOFT_PURGED) f[head.peerAgeAt + 2] = softPurgedValue(meta, ageS, askedAtMs);
  }
  return f;
}

function viaValue(existing: string | undefined, mine: string): string {
  return existing ? `${existing}, ${mine}` : mine;
}

/**
 * The one rule for a 304 to a client's conditional request, whether the stored
 * entry answers it or a response being stored does (RFC 9110 §15.4.5): the
 * allow-listed fields of the stored response, then Age, Cache-Status and Via.
 */
export function deliverNotModified(res: ServerResponse, meta: EntryMeta, ageS: number, cacheStatus: string, opts: DeliverOptions): StoredAnswer {
  const raw: string[] = [];
  const stored = presentedHeaders(meta);
  for (const f of NOT_MODIFIED_FIELDS) {
    const v = stored[f];
    if (v !== undefined && !opts.hiddenFields.has(f)) raw.push(f, v);
  }
  raw.push(...ageFields(meta, ageS, opts), 'cache-status', cacheStatus, 'via', viaValue(meta.headers['via'], opts.via));
  res.writeHead(304, raw);
  res.end();
  return { status: 304, bodyBytes: 0 };
}

/**
 * Fields for the client from an origin response (answers passed through or shared
 * while stored): hop-by-hop and hidden fields removed, Via added. Cache-Status is
 * the caller's to add. A 204 or 304 goes without Content-Length, as Strata's own 304
 * does (http/no-content.ts): a 204 must not carry one (RFC 9110 §8.6), and on a 304
 * it only repeats the representation's length, which no cache takes from a 304
 * (RFC 9111 §3.2), while clients that check it against the bytes (undici, so Node's
 * fetch) fail the answer.
 */
export function originFields(headers: HeaderMap, opts: DeliverOptions, status: number): string[] {
  const h = withoutHopByHop(headers);
  for (const f of opts.hiddenFields) delete h[f];
  if (dropsContentLength(status)) delete h['content-length'];
  h['via'] = viaValue(h['via'], opts.via);
  return toRawPairs(h);
}

/** Whether deliverStored answers this request from `meta` with a 304 (no body read): the client's conditional matches it. */
export function answeredNotModified(reqHeaders: HeaderMap, meta: EntryMeta): boolean {
  return (
    (meta.status === 200 || meta.status === 203 || meta.status === 204) &&
    (reqHeaders['if-none-match'] !== undefined || reqHeaders['if-modified-since'] !== undefined) &&
    isNotModified(reqHeaders, presentedHeaders(meta))
  );
}

/**
 * Answer from a stored entry. Handles the client's conditional request (304),
 * HEAD, byte ranges (206, multipart/byteranges, 416) and the full body.
 * Synchronous when the body is in memory; a promise when it streams (from disk,
 * or slices): a body that fails mid-stream cuts the connection.
 */
export function deliverStored(
  req: StoredRequest,
  res: ServerResponse,
  entry: StoredEntry,
  ageS: number,
  cacheStatus: string,
  opts: DeliverOptions,
): StoredAnswer | Promise<StoredAnswer> {
  const { meta, body } = entry;
  if (answeredNotModified(req.headers, meta)) return deliverNotModified(res, meta, ageS, cacheStatus, opts);
  const shown = presentedHeaders(meta);
  const cacheable = meta.status === 200;

  const head = storedHead(meta, opts);
  // RFC 9110 §14.2: range handling is defined for GET only; a HEAD gets the full headers.
  if (cacheable && req.method === 'GET' && req.headers['range'] !== undefined && rangeApplies(req.headers['if-range'], meta, shown)) {
    const r = parseRanges(req.headers['range'], body.size);
    if (r.kind === 'unsatisfiable') {
      const msg = 'requested range not satisfiable\n';
      res.writeHead(416, ['content-range', `bytes */${body.size}`, 'content-type', 'text/plain', 'content-length', String(msg.length), 'accept-ranges', 'bytes', 'cache-status', cacheStatus, 'via', viaValue(meta.headers['via'], opts.via)]);
      res.end(msg);
      req.bytes += msg.length;
      return { status: 416, bodyBytes: msg.length };
    }
    if (r.kind === 'satisfiable') {
      const raw = partialFields(head).concat(ageFields(meta, ageS, opts), 'cache-status', cacheStatus);
      if (r.ranges.length > 1) return deliverMultipart(req, res, raw, meta, body, r.ranges);
      const { start, end } = r.ranges[0]!;
      raw.push('content-range', `bytes ${start}-${end}/${body.size}`, 'content-length', String(end - start + 1));
      res.writeHead(206, raw);
      return sendBytes(req, res, body, 206, start, end);
    }
  }
  res.writeHead(meta.status, wholeFields(head, meta, ageS, cacheStatus, body.size, opts.peerAskedAtMs));
  return sendBytes(req, res, body, meta.status, 0, body.size - 1);
}

/**
 * The stored fields of a 206: a part's content is other bytes than the whole body's, so
 * the digests of that content (Content-Digest, Content-MD5) would be wrong on it, and a
 * client that checks them would reject good bytes (RFC 9530 §2). As an object built from
 * slices drops them (pipeline/slice-parts.ts objectHeaders). A Content-Range a stored 200
 * came with (meaningless on a 200, RFC 9110 §14.4) is dropped too: the 206 says its own.
 */
function partialFields(head: StoredHead): string[] {
  if (head.partial) return head.partial;
  const out: string[] = [];
  for (let i = 0; i < head.base.length; i += 2) {
    const name = head.base[i]!;
    if (name !== 'content-range' && !CONTENT_DIGEST_FIELDS.includes(name)) out.push(name, head.base[i + 1]!);
  }
  return (head.partial = out);
}

/**
 * If-Range against a stored entry. A variant Strata made (meta.transform) has no
 * strong validator of its own: its bytes change when the background
 * recompression swaps fast for best under the same Last-Modified, so If-Range
 * never matches it (its ETag is weak; its date is weak for it, RFC 9110
 * §8.8.2.2): a resumed download gets the whole variant, never spliced bytes.
 */
function rangeApplies(ifRange: string | undefined, meta: EntryMeta, shown: HeaderMap): boolean {
  return ifRange === undefined || (meta.transform === undefined && ifRangeAllows(ifRange, shown['etag'], shown['last-modified'], shown['date']));
}

/** The body bytes from `start` to `end` (inclusive) after the head: none for HEAD, 204 or an empty range. */
function sendBytes(req: StoredRequest, res: ServerResponse, body: Body, status: number, start: number, end: number): StoredAnswer | Promise<StoredAnswer> {
  const length = body.size === 0 ? 0 : end - start + 1;
  if (req.method === 'HEAD' || length === 0 || status === 204) {
    res.end();
    return { status, bodyBytes: 0 };
  }
  if (body.buffer) {
    res.end(start === 0 && end === body.size - 1 ? body.buffer : body.buffer.subarray(start, end + 1));
    req.bytes += length;
    return { status, bodyBytes: length };
  }
  return streamOut(body.stream(start, end), res, status, req);
}

/** Several ranges (RFC 9110 §14.6): one multipart/byteranges answer, parts in ascending order. */
function deliverMultipart(req: StoredRequest, res: ServerResponse, raw: string[], meta: EntryMeta, body: Body, ranges: ByteRange[]): StoredAnswer | Promise<StoredAnswer> {
  const plan = planMultipart(ranges, body.size, meta.headers['content-type']);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i] !== 'content-type') out.push(raw[i]!, raw[i + 1]!);
  out.push('content-type', plan.contentType, 'content-length', String(plan.length));
  res.writeHead(206, out);
  if (body.buffer) {
    res.end(multipartBuffer(plan, body.buffer));
    req.bytes += plan.length;
    return { status: 206, bodyBytes: plan.length };
  }
  return streamOut(multipartStream(plan, body), res, 206, req);
}

/**
 * A streamed body (disk, slices), its bytes counted into `tally` as they are
 * handed to the client: a body that fails mid-stream (integrity, I/O, a slice the
 * origin cut) is counted as what was written, never as its announced length.
 */
function streamOut(source: Readable, res: ServerResponse, status: number, tally: { bytes: number }): Promise<StoredAnswer> {
  const before = tally.bytes;
  // Attached before pipeline pipes it (in the same turn): every chunk is counted as pipe writes it.
  source.on('data', (chunk: Buffer) => {
    tally.bytes += chunk.length;
  });
  return pipeline(source, res).then(
    () => ({ status, bodyBytes: tally.bytes - before }),
    () => {
      // A stored body that fails mid-stream must not look complete: the connection is cut.
      res.destroy();
      return { status, bodyBytes: tally.bytes - before };
    },
  );
}

/**
 * A stored 200 will be answered with ranges from now on, so its first answer says
 * so too, whatever the origin advertised (RFC 9110 §14.3).
 */
export function advertiseRanges(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i] !== 'accept-ranges') out.push(raw[i]!, raw[i + 1]!);
  out.push('accept-ranges', 'bytes');
  return out;
}

/**
 * Strata's own error answer: a short plain-text body saying what happened (never which
 * upstream, nor where). Returns the body bytes written (0: the head was out already,
 * the connection is cut instead), for the access line and bytesServed. `extra`: raw
 * field pairs added (to a peer: cluster/peer-auth.ts PEER_ERROR).
 */
export function deliverError(res: ServerResponse, err: StrataError, cacheStatus: string, via: string, closeConnection = false, extra?: string[]): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const body = `${err.status} ${err.code}: ${err.clientMessage}\n`;
  const length = Buffer.byteLength(body);
  const raw = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(length), 'cache-status', cacheStatus, 'via', via, 'cache-control', 'no-store'];
  if (closeConnection) raw.push('connection', 'close');
  if (extra) raw.push(...extra);
  res.writeHead(err.status, raw);
  res.end(body);
  // A HEAD answer's body is dropped by Node: none was sent.
  return res.req?.method === 'HEAD' ? 0 : length;
}
