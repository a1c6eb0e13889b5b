// A tiny raw HTTP/1.1 client for protocol tests: writes exact bytes on a TCP
// connection and parses what comes back, so malformed and hostile requests can be
// sent that no well-behaved client library would produce. Every wait is bounded:
// a server that never answers fails the test instead of hanging it.

import net from 'node:net';

export interface RawResponse {
  statusLine: string;
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

export interface RawResult {
  responses: RawResponse[];
  /** The server closed the connection (seen within the wait). */
  closed: boolean;
  /** Every byte received. */
  raw: Buffer;
}

export interface RawOptions {
  /** Resolve once this many complete responses are parsed (default 1). */
  responses?: number;
  /**
   * After the responses are parsed, wait (up to `closeWaitMs`) for the server to
   * close; `closed` reports whether it did. Without it the client closes at once.
   */
  waitClose?: boolean;
  closeWaitMs?: number;
  /** Overall bound; exceeding it rejects (default 5000 ms). */
  timeoutMs?: number;
  /** Responses to requests with these methods carry no body (HEAD). */
  headOnly?: boolean;
  /** Write the payload in pieces, this many ms apart (default: one write). */
  pieces?: (string | Buffer)[];
  pieceGapMs?: number;
}

/** Parse as many complete responses as `buf` holds; `closed` lets a close-delimited body end. */
export function parseResponses(buf: Buffer, closed: boolean, headOnly = false): RawResponse[] {
  const out: RawResponse[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end === -1) break;
    const head = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const statusLine = head[0] ?? '';
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
    if (!m) throw new Error(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 200))}`);
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const c = line.indexOf(':');
      if (c <= 0) throw new Error(`malformed response header line: ${JSON.stringify(line)}`);
      const name = line.slice(0, c).trim().toLowerCase();
      const value = line.slice(c + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyStart = end + 4;
    let body: Buffer;
    const noBody = headOnly || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
      body = Buffer.alloc(0);
    } else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let p = bodyStart;
      let done = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le === -1) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1'), 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size in response');
        if (size === 0) {
          const te = buf.indexOf('\r\n\r\n', le);
          if (te === -1) break;
          p = te + 4;
          done = true;
          break;
        }
        if (le + 2 + size + 2 > buf.length) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!done) break;
      body = Buffer.concat(parts);
      bodyStart = p;
      out.push({ statusLine, status, headers, body, text: body.toString() });
      pos = bodyStart;
      continue;
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (bodyStart + n > buf.length) break;
      body = buf.subarray(bodyStart, bodyStart + n);
      bodyStart += n;
    } else {
      // Close-delimited body.
      if (!closed) break;
      body = buf.subarray(bodyStart);
      bodyStart = buf.length;
    }
    out.push({ statusLine, status, headers, body: Buffer.from(body), text: body.toString() });
    pos = bodyStart;
  }
  return out;
}

/** Connect to 127.0.0.1:`port`, send `payload`, read the answer(s). Rejects on timeout. */
export function rawExchange(port: number, payload: string | Buffer, opts: RawOptions = {}): Promise<RawResult> {
  const want = opts.responses ?? 1;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const closeWaitMs = opts.closeWaitMs ?? 2000;
  return new Promise<RawResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let closed = false;
    let settled = false;
    let closeTimer: NodeJS.Timeout | undefined;
    const socket = net.connect({ host: '127.0.0.1', port });
    const received = () => Buffer.concat(chunks);
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (closeTimer) clearTimeout(closeTimer);
      socket.destroy();
      if (err) {
        reject(err);
        return;
      }
      try {
        const raw = received();
        resolve({ responses: parseResponses(raw, closed, opts.headOnly), closed, raw });
      } catch (e) {
        reject(e as Error);
      }
    };
    const timer = setTimeout(() => {
      const got = received().toString('latin1');
      finish(new Error(`raw exchange timed out after ${timeoutMs} ms; received ${got.length} bytes: ${JSON.stringify(got.slice(0, 500))}`));
    }, timeoutMs);
    const check = () => {
      let parsed: RawResponse[];
      try {
        parsed = parseResponses(received(), closed, opts.headOnly);
      } catch (e) {
        finish(e as Error);
        return;
      }
      if (closed) {
        finish();
        return;
      }
      if (parsed.length >= want) {
        if (!opts.waitClose) finish();
        else closeTimer ??= setTimeout(() => finish(), closeWaitMs);
      }
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      check();
    });
    socket.on('end', () => {
      closed = true;
      check();
    });
    socket.on('close', () => {
      closed = true;
      check();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the server has answered still counts as a close.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
        closed = true;
        check();
      } else {
        finish(err);
      }
    });
    socket.on('connect', async () => {
      if (!opts.pieces) {
        socket.write(payload);
        return;
      }
      for (const p of [payload, ...opts.pieces]) {
        if (settled || socket.destroyed) return;
        socket.write(p);
        await new Promise((r) => setTimeout(r, opts.pieceGapMs ?? 20));
      }
    });
  });
}

/** Connect, write `partial`, and disconnect without waiting for anything. */
export function sendAndAbort(port: number, partial: string | Buffer, timeoutMs = 2000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`could not connect and write within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('connect', () => {
      socket.write(partial, () => {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      });
    });
  });
}

/**
 * Send `payload` from a client that keeps its own side open (half-open) after the
 * server's answer, wait `afterMs`, then write probe bytes: resolves true when the
 * server has released the connection by then (the probe meets EPIPE / a reset),
 * false when the connection is still held. Bounded by `afterMs` + 2 s.
 */
export function serverReleasesHalfOpen(port: number, payload: string | Buffer, afterMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let done = false;
    const finish = (v: boolean | Error) => {
      if (done) return;
      done = true;
      clearTimeout(bound);
      socket.destroy();
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    const bound = setTimeout(() => finish(new Error('server never answered / half-closed')), afterMs + 2000);
    socket.resume();
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'EPIPE' || err.code === 'ECONNRESET' ? true : err));
    socket.on('close', () => finish(true));
    socket.once('end', () => {
      setTimeout(() => {
        socket.write('probe');
        setTimeout(() => {
          socket.write('probe');
          setTimeout(() => finish(false), 500);
        }, 200);
      }, afterMs);
    });
    socket.on('connect', () => socket.write(payload));
  });
}
