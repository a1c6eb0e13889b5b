// The fuzz suite's core (fast-check), shared by the bounded CI run
// (test/fuzz/requests.test.ts) and the long run (bench/fuzz.ts, `npm run fuzz`).
// Raw requests against a live node in front of an origin whose answers are a
// pure function of the URL it received: request lines, targets (dot segments,
// percent-encoding, queries, absolute form, junk), methods, Host, header names and
// values (control characters included), Range, Accept-Encoding and Cache-Control.
//
// Properties, per request: an answer comes (no hang, no crash); no 5xx unless
// it is Strata's own answer to a client's wish (501 for a method it refuses, 504
// for only-if-cached with nothing stored); a 200 body is whole (one URL, its
// exact pattern) and a request target never gets two different URLs' bodies
// (never one key's body under another key); a 206 is the stated slice of that
// body. And every few cases, the node still answers a known request correctly.

import fc from 'fast-check';
import zlib from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHarness, type Harness } from '../fixtures/harness.js';
import { rawExchange, type RawResponse } from '../protocol/raw.js';

/** The origin's body for a URL: its own line repeated, so any slice or mix-up is visible. */
export function bodyFor(url: string): Buffer {
  const line = `U:${url}\n`;
  return Buffer.from(line.repeat(Math.max(1, Math.ceil(2048 / line.length))));
}

const POLICIES = ['public, max-age=60', 'max-age=60', 'no-store', 'private, max-age=60', 's-maxage=0, max-age=60', 'no-cache', 'max-age=60, must-revalidate', ''];

/** Deterministic per URL: the same URL always gets the same answer. */
function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function fuzzOrigin(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '';
  const body = bodyFor(url);
  const h = hash(url);
  const headers: Record<string, string> = { 'content-type': 'text/plain', 'accept-ranges': 'bytes', etag: `"${h.toString(16)}"` };
  const cc = POLICIES[h % POLICIES.length]!;
  if (cc) headers['cache-control'] = cc;
  if (h & 8) headers['vary'] = 'Accept-Encoding';
  const m = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
  if (m && Number(m[1]) < body.length) {
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
    if (start <= end) {
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 });
      res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
      return;
    }
  }
  res.writeHead(200, { ...headers, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

// --- Arbitraries ---------------------------------------------------------------

const segment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'img', 'x.css', 'account.php', 'v1') },
  { weight: 3, arbitrary: fc.constantFrom('..', '.', '%2e%2e', '%2E', '.%2e', '', 'x%2fy', '%00', '%zz', '%ff', '~u', ';p=1', "!$&'()*+,;=:@", 'a%20b', '%C3%A9') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 6 }).map((x) => x.replace(/[ #?]/g, '')) },
);
const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?a=1', '?a=1&b=2', '?b=2&a=1', '?', '?%zz', '?a=%2e%2e', '?' + 'q'.repeat(300)),
  fc.string({ unit: 'grapheme-ascii', maxLength: 10 }).map((s) => `?${s.replace(/[ #]/g, '')}`),
);
const originForm = fc.tuple(fc.array(segment, { maxLength: 5 }), query).map(([segs, q]) => `/${segs.join('/')}${q}`);
const target = fc.oneof(
  { weight: 8, arbitrary: originForm },
  { weight: 1, arbitrary: originForm.map((p) => `http://site.example${p}`) },
  { weight: 1, arbitrary: fc.constantFrom('*', 'http://elsewhere.example/a', 'a', '//a', '/' + 'x'.repeat(9000), '', '/a b', '/\u00e9') },
);
const method = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'GET', 'GET', 'HEAD') },
  { weight: 2, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'OPTIONS', 'PURGE', 'TRACE', 'CONNECT', 'PATCH', 'get', 'BREW', 'G@T', '') },
);
const range = fc.oneof(
  fc.tuple(fc.nat(3000), fc.nat(3000)).map(([a, b]) => `bytes=${Math.min(a, b)}-${Math.max(a, b)}`),
  fc.nat(3000).map((n) => `bytes=-${n}`),
  fc.nat(3000).map((n) => `bytes=${n}-`),
  fc.constantFrom('bytes=0-0,5-9', 'bytes=9-0', 'bytes=', 'bytes=-', 'items=0-1', 'bytes=0-1,0-1,0-1', 'bytes=99999999999999999999-', 'bytes = 0-1'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
  fc.string({ unit: 'binary-ascii', maxLength: 6 }),
);
const acceptEncoding = fc.oneof(
  fc.constantFrom('gzip', 'br', 'gzip, br', 'br, gzip', 'identity;q=0', '*', 'gzip;q=2', 'zstd', 'GZIP', 'gzip;q=0.5, br;q=1', ''),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
  fc.string({ unit: 'binary-ascii', maxLength: 6 }),
);
const cacheControl = fc.oneof(
  fc.constantFrom('no-cache', 'max-age=0', 'only-if-cached', 'max-stale', 'max-stale=5', 'no-store', 'max-age=abc', 'min-fresh=999999', 'no-cache="x, y"', 'MAX-AGE=0'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
  fc.string({ unit: 'binary-ascii', maxLength: 6 }),
);
/** Field names: tokens, and some that are not. */
const fieldName = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/) },
  { weight: 4, arbitrary: fc.constantFrom('X-Original-URL', 'X-Forwarded-Host', 'X-HTTP-Method-Override', 'Cookie', 'Authorization', 'If-None-Match', 'If-Modified-Since', 'If-Range', 'Pragma', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Max-Forwards', 'Host') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 8 }) },
);
const fieldValue = fc.oneof({ weight: 8, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 24 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 24 }) });

export interface FuzzCase {
  method: string;
  target: string;
  version: string;
  host: string | undefined;
  fields: [string, string][];
}

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
  method,
  target,
  version: fc.oneof({ weight: 9, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.12', 'http/1.1', '') }),
  host: fc.oneof({ weight: 8, arbitrary: fc.constant('site.example') }, { weight: 2, arbitrary: fc.option(fc.constantFrom('other.example', '', 'site.example:80', 'a b', 'site.example, x')) }),
  fields: fc.array(
    fc.oneof(
      range.map((v): [string, string] => ['Range', v]),
      acceptEncoding.map((v): [string, string] => ['Accept-Encoding', v]),
      cacheControl.map((v): [string, string] => ['Cache-Control', v]),
      fc.tuple(fieldName, fieldValue),
    ),
    { maxLength: 4 },
  ),
}) as fc.Arbitrary<FuzzCase>;

// --- The run -------------------------------------------------------------------

export function requestBytes(c: FuzzCase): Buffer {
  const lines = [`${c.method} ${c.target} ${c.version}`];
  if (c.host !== undefined) lines.push(`Host: ${c.host}`);
  // Expect: 100-continue would add an interim answer this oracle does not read.
  for (const [n, v] of c.fields) if (n.toLowerCase() !== 'expect') lines.push(`${n}: ${v}`);
  // No request is left waiting on a body it announced.
  const announced = c.fields.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n));
  lines.push('Connection: close');
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + (announced ? '0\r\n\r\n' : ''), 'latin1');
}

/** Strata's own 5xx answers to what a client asked for. */
const CLIENT_ASKED_5XX = /^(501 METHOD_NOT_IMPLEMENTED|501 TRANSFER_CODING_NOT_IMPLEMENTED|504 ONLY_IF_CACHED_MISS):/;

/** The body without its content coding (compressed variants are the same representation). */
function decoded(body: Buffer, coding: string | undefined): Buffer {
  switch ((coding ?? '').trim().toLowerCase()) {
    case '':
    case 'identity':
      return body;
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(body);
    case 'deflate':
      return zlib.inflateSync(body);
    case 'br':
      return zlib.brotliDecompressSync(body);
    case 'zstd': {
      const z = zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer };
      if (z.zstdDecompressSync) return z.zstdDecompressSync(body);
      throw new Error('a zstd body on a Node without zstd');
    }
    default:
      throw new Error(`a body in an unknown coding: ${coding}`);
  }
}

export class FuzzOracle {
  /** Request target (as sent, with Host) → the URL whose body it got. */
  private readonly seen = new Map<string, string>();

  check(c: FuzzCase, r: RawResponse | undefined): void {
    if (!r) throw new Error('no answer');
    const own = CLIENT_ASKED_5XX.test(r.text) || /detail=(only-if-cached|method_not_implemented)\b/.test(r.headers['cache-status'] ?? '');
    if (r.status >= 500 && !own) throw new Error(`a ${r.status} for a client's request: ${r.text.slice(0, 200)}`);
    if (c.method !== 'GET' || r.body.length === 0) return;
    const key = `${c.host} ${c.target}`;
    const coding = r.headers['content-encoding'];
    if (r.status === 200 && r.headers['content-type'] === 'text/plain') {
      const body = decoded(r.body, coding);
      const url = /^U:(.*)\n/.exec(body.toString('latin1'))?.[1];
      if (url === undefined || !body.equals(bodyFor(url))) throw new Error(`a 200 body that is not one URL's whole body: ${JSON.stringify(body.subarray(0, 120).toString('latin1'))}`);
      const before = this.seen.get(key);
      if (before !== undefined && before !== url) throw new Error(`${key} got the body of ${url} after that of ${before}`);
      this.seen.set(key, url);
    }
    // A range of a compressed variant is a slice of its coded bytes: only its length is checked.
    if (r.status === 206 && r.headers['content-range']) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(r.headers['content-range']);
      if (!m) return;
      if (r.body.length !== Number(m[2]) - Number(m[1]) + 1) throw new Error(`206 of ${r.body.length} bytes for ${r.headers['content-range']}`);
      const url = coding ? undefined : this.seen.get(key);
      if (url !== undefined && !r.body.equals(bodyFor(url).subarray(Number(m[1]), Number(m[2]) + 1))) throw new Error(`${key}: a 206 that is not a slice of ${url}'s body`);
    }
  }
}

export interface FuzzOptions {
  runs: number;
  seed: number;
  /** Check the node still serves every this many cases. */
  probeEvery?: number;
}

async function probe(h: Harness): Promise<void> {
  const r = await rawExchange(h.node.proxyAddress().port, 'GET /fuzz-probe HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n', { timeoutMs: 5_000 });
  if (r.responses[0]?.status !== 200 || !r.responses[0].body.equals(bodyFor('/fuzz-probe'))) throw new Error('the node no longer serves a plain request');
}

/** Start a node, run `runs` cases from `seed`; throws fast-check's report (with seed and path) on a failure. */
export async function runFuzz(opts: FuzzOptions): Promise<{ cases: number; statuses: Record<number, number> }> {
  const h = await startHarness(fuzzOrigin, { limits: { requestHeadersTimeoutMs: 2_000, requestBodyTimeoutMs: 1_000 } });
  const oracle = new FuzzOracle();
  const statuses: Record<number, number> = {};
  let cases = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fuzzCase, async (c) => {
        cases++;
        const r = await rawExchange(h.node.proxyAddress().port, requestBytes(c), { timeoutMs: 5_000, headOnly: c.method === 'HEAD' });
        const first = r.responses[0];
        if (first) statuses[first.status] = (statuses[first.status] ?? 0) + 1;
        oracle.check(c, first);
        if (cases % (opts.probeEvery ?? 25) === 0) await probe(h);
      }),
      { numRuns: opts.runs, seed: opts.seed, endOnFailure: true, includeErrorInReport: true },
    );
    await probe(h);
  } finally {
    await h.close();
  }
  return { cases, statuses };
}
