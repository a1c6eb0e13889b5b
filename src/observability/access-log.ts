// The access log: one JSON line per request, in pino's line format (level 30,
// epoch-ms time, the node's bindings, msg "access"), written to the logger's own
// destination. Lines are built by hand and written in batches — when 256 KiB are
// pending or 100 ms after the first pending line, whichever comes first: going
// through pino's generic serialiser and one write per request cost about a third
// of a cache hit's CPU (bench/RESULTS.md), and a quiet node still logs promptly.
// Each line is written into the batch's byte buffer piece by piece — the head
// and the middle as cached bytes, the id and ms digit by digit — and the node's
// destination takes the buffer as it is (log-destination.ts): no string is made
// per line. Lines built as strings and joined cost about 2 µs of a 1 KiB hit
// (access log on vs off, same run); copied as strings into the buffer, about as
// much; written this way, under 1 µs (bench/RESULTS.md).
// A line repeats the fields of the line before when they are the same (one URL
// answered the same way), so those are not escaped and joined again. Every line
// is ASCII (strings are JSON-escaped down to \u escapes), so its length is its
// byte count. Batches are large because each asynchronous write costs tens of µs
// of the event loop's time (a hand-off to libuv's pool) whatever its size.

import pino, { type Logger } from 'pino';
import { BATCH_BYTES, takesBytes, type ByteLogDestination } from './log-destination.js';

export interface AccessRecord {
  /** The node's request number since start. */
  id: number;
  method: string;
  url: string;
  host: string;
  status: number;
  bytes: number;
  cache: string;
  /** Strata's own error answers: the error code (lower case, as Cache-Status detail has it); absent otherwise. */
  code?: string | undefined;
  upstream: string | undefined;
  /** "site/route" (or "site/route#canary") when the node has sites; absent otherwise. */
  route?: string | undefined;
  ms: number;
  aborted: boolean;
  /** Set for HTTP/2 requests; undefined for HTTP/1.x. */
  http?: '2' | undefined;
}

const BATCH_DELAY_MS = 100;

/** JSON string literal in ASCII; the request line's characters rarely need escaping. */
function str(s: string): string {
  return NEEDS_ESCAPE.test(s) ? asciiJson(s) : `"${s}"`;
}
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;

/** JSON.stringify with every non-ASCII character written as a \u escape. */
function asciiJson(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** ASCII text (every piece of a line is ASCII) as bytes. */
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const MS = ascii(',"ms":');
const HTTP2 = ascii(',"http":"2"');
const END = ascii('}\n');
const END_ABORTED = ascii(',"aborted":true}\n');
/** Room a line needs beside its head and middle: the id, ms, the http field and the closing pieces. */
const NUMBERS_ROOM = 96;

/** A non-negative integer's decimal digits written at `at`; the offset after them. */
function writeUint(b: Buffer, at: number, n: number): number {
  if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER) || n !== Math.floor(n)) return at + b.write(String(n), at, 'latin1');
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  let i = at + digits;
  do {
    const q = Math.floor(n / 10);
    b[--i] = 48 + (n - q * 10);
    n = q;
  } while (n > 0);
  return at + digits;
}

/**
 * `ms` (already rounded to hundredths) as JSON.stringify writes it ("0.05", "1.5",
 * "2"), digit by digit into the line: no string made.
 */
function writeHundredths(b: Buffer, at: number, ms: number): number {
  const h = Math.round(ms * 100);
  if (!(h >= 0 && h <= Number.MAX_SAFE_INTEGER)) return at + b.write(String(ms), at, 'latin1');
  const whole = Math.floor(h / 100);
  const frac = h - whole * 100;
  at = writeUint(b, at, whole);
  if (frac === 0) return at;
  b[at++] = 46; // '.'
  if (frac % 10 === 0) {
    b[at++] = 48 + frac / 10;
    return at;
  }
  b[at++] = 48 + Math.floor(frac / 10);
  b[at++] = 48 + (frac % 10);
  return at;
}

interface Sink {
  write(chunk: string): unknown;
}

export class AccessLog {
  /** The batch being filled (taken when a line arrives and none is), and its used length. */
  private batch: Buffer | undefined;
  private used = 0;
  private timer: NodeJS.Timeout | undefined;
  private enabled: boolean;
  private readonly sink: Sink;
  /** The node's destination lends batch buffers and takes them back written; a string sink gets copies. */
  private readonly bytes: ByteLogDestination | undefined;
  private readonly prefix: string;

  constructor(private readonly logger: Logger, nodeId: string, private readonly now: () => number = Date.now) {
    this.enabled = logger.isLevelEnabled('info');
    this.sink = (logger as unknown as Record<symbol, Sink>)[pino.symbols.streamSym]!;
    this.bytes = takesBytes(this.sink) ? this.sink : undefined;
    this.prefix = `,"node":${asciiJson(nodeId)},"msg":"access","id":`;
  }

  /** After the logger's level changed (a reload): access lines are info lines. */
  levelChanged(): void {
    this.enabled = this.logger.isLevelEnabled('info');
  }

  /** The line's opening up to the id, for the millisecond it was made in. */
  private headMs = -1;
  private head: Buffer = END;

  /**
   * The fields from method to route as JSON, and what they were made from: most
   * lines repeat the line before's (the same URL answered the same way), so
   * those are compared, not escaped and joined again.
   */
  private mid: Buffer = END;
  private midOf: AccessRecord | undefined;

  private middle(r: AccessRecord): Buffer {
    const m = this.midOf;
    if (m !== undefined && m.url === r.url && m.status === r.status && m.bytes === r.bytes && m.cache === r.cache && m.code === r.code && m.method === r.method && m.host === r.host && m.upstream === r.upstream && m.route === r.route) {
      return this.mid;
    }
    let mid = `,"method":${str(r.method)},"url":${str(r.url)},"host":${str(r.host)},"status":${r.status},"bytes":${r.bytes},"cache":"${r.cache}"`;
    if (r.code !== undefined) mid += `,"code":${str(r.code)}`;
    if (r.upstream !== undefined) mid += `,"upstream":${str(r.upstream)}`;
    if (r.route !== undefined) mid += `,"route":${str(r.route)}`;
    this.midOf = r;
    return (this.mid = ascii(mid));
  }

  record(r: AccessRecord): void {
    if (!this.enabled) return;
    const now = this.now();
    if (now !== this.headMs) {
      this.headMs = now;
      this.head = ascii(`{"level":30,"time":${now}${this.prefix}`);
    }
    const mid = this.middle(r);
    const room = this.head.length + mid.length + NUMBERS_ROOM;
    // A line longer than a whole batch (a very long URL) goes out alone.
    if (room > BATCH_BYTES) {
      this.flush();
      const alone = Buffer.allocUnsafe(room);
      const bytes = alone.subarray(0, this.writeLine(alone, 0, r, mid));
      if (this.bytes !== undefined) this.bytes.writeBytes(bytes);
      else this.sink.write(bytes.toString('latin1'));
      return;
    }
    let batch = this.batch;
    if (batch !== undefined && this.used + room > batch.length) {
      this.flush();
      batch = this.batch;
    }
    if (batch === undefined) batch = this.batch = this.bytes?.batchBuffer() ?? Buffer.allocUnsafe(BATCH_BYTES);
    this.used = this.writeLine(batch, this.used, r, mid);
    if (this.timer === undefined) {
      this.timer = setTimeout(this.flush, BATCH_DELAY_MS);
      this.timer.unref();
    }
  }

  /** The line's bytes written at `at` (room checked by the caller); the offset after them. */
  private writeLine(b: Buffer, at: number, r: AccessRecord, mid: Buffer): number {
    b.set(this.head, at);
    at = writeUint(b, at + this.head.length, r.id);
    b.set(mid, at);
    at += mid.length;
    b.set(MS, at);
    at = writeHundredths(b, at + MS.length, r.ms);
    if (r.http !== undefined) {
      b.set(HTTP2, at);
      at += HTTP2.length;
    }
    const end = r.aborted ? END_ABORTED : END;
    b.set(end, at);
    return at + end.length;
  }

  /** Write what is pending now (also called at shutdown). */
  readonly flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    const used = this.used;
    if (batch === undefined || used === 0) return;
    this.used = 0;
    if (this.bytes === undefined) {
      // A string is a copy: the buffer serves the next batch.
      this.sink.write(batch.toString('latin1', 0, used));
      return;
    }
    // Lent until written: the next line takes another (the destination's pool).
    this.batch = undefined;
    this.bytes.writeBatch(batch, used);
  };
}
