// The access log: one JSON line per request, in pino's line format (level 30,
// epoch-ms time, the node's bindings, msg "access"), written to the logger's own
// destination. Lines are built by hand and written in batches — when 256 KiB are
// pending or 100 ms after the first pending line, whichever comes first: going
// through pino's generic serialiser and one write per request cost about a third
// of a cache hit's CPU (bench/RESULTS.md), and a quiet node still logs promptly.
// Pending lines are one joined string (V8 joins without copying; the destination
// makes the one copy at the write): copying each line into a byte buffer as it
// was made, then the buffer back into a string for the destination, cost about
// 0.2 µs more per line. A line repeats the fields of the line before when they
// are the same (one URL answered the same way), so those are not escaped and
// joined again. Every line is ASCII (strings are JSON-escaped down to \u
// escapes), so its length is its byte count. Batches are
// large because each asynchronous write costs tens of µs of the event loop's
// time (a hand-off to libuv's pool) whatever its size: at 32 KiB that was about
// 0.7 µs of every 1 KiB hit (a profile of the bench's hit scenario).

import pino, { type Logger } from 'pino';

export interface AccessRecord {
  /** The node's request number since start. */
  id: number;
  method: string;
  url: string;
  host: string;
  status: number;
  bytes: number;
  cache: string;
  upstream: string | undefined;
  /** "site/route" (or "site/route#canary") when the node has sites; absent otherwise. */
  route?: string | undefined;
  ms: number;
  aborted: boolean;
  /** Set for HTTP/2 requests ("2"); undefined for HTTP/1.x. */
  http?: string | undefined;
}

const BATCH_BYTES = 256 * 1024;
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

/**
 * `ms` (already rounded to hundredths) as JSON.stringify writes it ("0.05", "1.5",
 * "2"), from integers: a small integer's text is cached by V8, a fraction's is not.
 */
function hundredths(ms: number): string {
  const h = Math.round(ms * 100);
  if (!(h >= 0 && h <= 0x3fffffff)) return String(ms);
  const whole = (h / 100) | 0;
  const frac = h - whole * 100;
  if (frac === 0) return String(whole);
  if (frac % 10 === 0) return `${whole}.${frac / 10}`;
  return frac < 10 ? `${whole}.0${frac}` : `${whole}.${frac}`;
}

interface Sink {
  write(chunk: string): unknown;
}

export class AccessLog {
  /** Pending lines, joined (V8 joins strings without copying; the one copy is made at the write). */
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private enabled: boolean;
  private readonly sink: Sink;
  private readonly prefix: string;

  constructor(private readonly logger: Logger, nodeId: string, private readonly now: () => number = Date.now) {
    this.enabled = logger.isLevelEnabled('info');
    this.sink = (logger as unknown as Record<symbol, Sink>)[pino.symbols.streamSym]!;
    this.prefix = `,"node":${asciiJson(nodeId)},"msg":"access","id":`;
  }

  /** After the logger's level changed (a reload): access lines are info lines. */
  levelChanged(): void {
    this.enabled = this.logger.isLevelEnabled('info');
  }

  /** The line's opening up to the id, for the millisecond it was made in. */
  private headMs = -1;
  private head = '';

  /**
   * The fields from method to route as JSON, and what they were made from: most
   * lines repeat the line before's (the same URL answered the same way), so
   * those are compared, not escaped and joined again.
   */
  private mid = '';
  private midOf: AccessRecord | undefined;

  private middle(r: AccessRecord): string {
    const m = this.midOf;
    if (m !== undefined && m.url === r.url && m.status === r.status && m.bytes === r.bytes && m.cache === r.cache && m.method === r.method && m.host === r.host && m.upstream === r.upstream && m.route === r.route) {
      return this.mid;
    }
    let mid = `,"method":${str(r.method)},"url":${str(r.url)},"host":${str(r.host)},"status":${r.status},"bytes":${r.bytes},"cache":"${r.cache}"`;
    if (r.upstream !== undefined) mid += `,"upstream":${str(r.upstream)}`;
    if (r.route !== undefined) mid += `,"route":${str(r.route)}`;
    this.midOf = r;
    this.mid = mid;
    return mid;
  }

  record(r: AccessRecord): void {
    if (!this.enabled) return;
    const now = this.now();
    if (now !== this.headMs) {
      this.headMs = now;
      this.head = `{"level":30,"time":${now}${this.prefix}`;
    }
    let line = this.head + r.id + this.middle(r) + ',"ms":' + hundredths(r.ms);
    if (r.http !== undefined) line += `,"http":"${r.http}"`;
    line += r.aborted ? ',"aborted":true}\n' : '}\n';
    this.pending += line;
    if (this.pending.length >= BATCH_BYTES) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.flush, BATCH_DELAY_MS);
      this.timer.unref();
    }
  }

  /** Write what is pending now (also called at shutdown). */
  readonly flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === '') return;
    const out = this.pending;
    this.pending = '';
    this.sink.write(out);
  };
}
