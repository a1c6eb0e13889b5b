// A request body read whole before the origin is asked (nginx's
// proxy_request_buffering): a client trickling its body holds memory or a temp
// file of its own, never one of the origin pool's connections.
//
// Bounds: up to `memoryBytes` in memory; past that the body is spooled to a temp
// file in `dir`, unlinked as soon as it is opened (so a crash leaves nothing and no
// other process can find it) and closed when its reader is done; past `maxBytes`
// the request is refused (413) — at once when Content-Length says so. A client
// that pauses longer than `idleTimeoutMs` between two pieces is refused (408).
// A refusal stops reading the body (stopReading) and is answered as closing the
// exchange: on HTTP/1.1 the connection is closed after the answer; on HTTP/2 the
// stream is reset with NO_ERROR after it (./h2-response.ts), so neither a
// connection nor a stream slot stays taken by a body nobody will read.
//
// Node-wide, every byte held counts against a RequestBodyBudget
// (./request-body-budget.ts) from its arrival until the holder calls release()
// (the origin has answered, or failed): a body that would take the memory budget
// past its bound is spooled instead, one that would take the spool budget past
// its bound is refused (503 REQUEST_BODY_BUFFERS_FULL, connection closed).
//
// A body the client abandoned is never forwarded: node:http2's compatibility
// layer ends a request normally (no error) when its stream is reset mid-body, so
// after the last byte the stream's state is checked too, and a body shorter than
// its declared Content-Length counts as abandoned whatever the protocol said.

import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { StrataError } from '../errors.js';
import type { RequestBodyBudget } from './request-body-budget.js';

export interface RequestBodyLimits {
  maxBytes: number;
  memoryBytes: number;
  /** Spool directory; "" for the OS temp dir. */
  dir: string;
  idleTimeoutMs: number;
}

/**
 * A whole request body: call `take()` once; a stream taken must be read or
 * destroyed (that closes its file). `release()` once the body is no longer needed
 * (the origin answered or failed): it gives its bytes back to the node's budget.
 */
export interface BufferedBody {
  length: number;
  /** Where the body waited: for logs and tests. */
  where: 'memory' | 'file';
  /** The bytes held in memory, or a stream of the spooled file (which closes it when read or destroyed). */
  take(): Buffer | Readable;
  release(): void;
}

/**
 * RFC 9110 §10.1.1: a client that sent `Expect: 100-continue` is asked for its
 * body (100 Continue) only now that it is about to be read. The listeners hand
 * such requests to the handler without writing 100 ('checkContinue'), so an
 * answer decided from the header fields alone — a refusal (a Content-Length over
 * the limit, the edge guard's), a cache hit — never asks for a body it will not
 * read. An HTTP/1.0 request's expectation is ignored (§10.1.1), as Node does.
 */
export function continueIfExpected(req: IncomingMessage, res: { headersSent: boolean; writeContinue(): void }): void {
  const expect = req.headers.expect;
  if (expect === undefined || res.headersSent || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) return;
  if (/(?:^|\W)100-continue(?:$|\W)/i.test(expect)) res.writeContinue();
}

/**
 * Expect: 100-continue on an HTTP/1.1 request whose framing says it has no content (no
 * Transfer-Encoding, no Content-Length or 0): nothing to wait for, so 100 is written at
 * once. Left unwritten, node:http answers with Connection: close (it cannot tell whether
 * a body follows), so a GET carrying Expect cost its keep-alive connection.
 */
export function continueIfBodiless(req: IncomingMessage, res: ServerResponse): void {
  const cl = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (cl === undefined || cl === '0')) res.writeContinue();
}

/** A declared length over the limit: refused before a byte is read. */
export function declaredTooLarge(req: IncomingMessage, maxBytes: number): StrataError | undefined {
  const cl = req.headers['content-length'];
  if (cl === undefined || !/^\d+$/.test(cl) || Number(cl) <= maxBytes) return undefined;
  return new StrataError('PAYLOAD_TOO_LARGE', `request body is ${cl} bytes; the limit is ${maxBytes} (limits.maxRequestBodyBytes)`);
}

class Spool {
  private written = 0;
  private reserved = 0;

  private constructor(
    private readonly fh: FileHandle,
    private readonly budget: RequestBodyBudget,
  ) {}

  static async create(dir: string, budget: RequestBodyBudget): Promise<Spool> {
    const path = join(dir || tmpdir(), `strata-body-${process.pid}-${randomBytes(6).toString('hex')}`);
    const fh = await open(path, 'wx+', 0o600);
    // Unlinked at once: the open handle keeps the bytes; nothing outlives the process.
    await unlink(path).catch(() => undefined);
    return new Spool(fh, budget);
  }

  /** Append `chunk`; false (nothing written) when the node's spool budget cannot take it. */
  async write(chunk: Buffer): Promise<boolean> {
    if (!this.budget.reserveSpool(chunk.length)) return false;
    this.reserved += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off, this.written);
      off += bytesWritten;
      this.written += bytesWritten;
    }
    return true;
  }

  /** Give the spooled bytes back to the node's budget (once). */
  release(): void {
    this.budget.releaseSpool(this.reserved);
    this.reserved = 0;
  }

  stream(): Readable {
    return this.fh.createReadStream({ start: 0, autoClose: true });
  }

  close(): Promise<void> {
    this.release();
    return this.fh.close().catch(() => undefined);
  }
}

/**
 * Read `req`'s body whole within `limits` and the node's `budget`. Resolves with
 * the body, or with a StrataError (413, 408, 503) for the caller to answer (and
 * close the connection), or undefined when the client went away. `askForBody`
 * runs once, right before the first read (continueIfExpected): not for a body
 * refused by its declared length.
 */
export async function bufferRequestBody(req: IncomingMessage, limits: RequestBodyLimits, budget: RequestBodyBudget, askForBody?: () => void): Promise<BufferedBody | StrataError | undefined> {
  const refused = declaredTooLarge(req, limits.maxBytes);
  if (refused) return refused;
  askForBody?.();
  const chunks: Buffer[] = [];
  let length = 0;
  // Bytes of `chunks` reserved in the node's memory budget.
  let inMemory = 0;
  let spool: Spool | undefined;
  let timer: NodeJS.Timeout | undefined;
  const giveBack = async (): Promise<void> => {
    budget.releaseMemory(inMemory);
    inMemory = 0;
    await spool?.close();
  };
  // Not destroyed on return(): that would cut the connection (HTTP/1.1) or reset the
  // stream (HTTP/2) before the refusal could be written.
  const it = req.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  try {
    for (;;) {
      const next = await new Promise<IteratorResult<Buffer> | 'timeout'>((resolve, reject) => {
        timer = setTimeout(() => resolve('timeout'), limits.idleTimeoutMs);
        it.next().then(resolve, reject);
      });
      clearTimeout(timer);
      if (next === 'timeout') {
        stopReading(req, it);
        await giveBack();
        return new StrataError('REQUEST_TIMEOUT', `request body paused for more than ${limits.idleTimeoutMs} ms (limits.requestBodyTimeoutMs)`);
      }
      if (next.done) break;
      const chunk = next.value;
      length += chunk.length;
      if (length > limits.maxBytes) {
        stopReading(req, it);
        await giveBack();
        return new StrataError('PAYLOAD_TOO_LARGE', `request body exceeds ${limits.maxBytes} bytes (limits.maxRequestBodyBytes)`);
      }
      if (!spool) {
        const fitsRequest = length <= limits.memoryBytes;
        if (fitsRequest && budget.reserveMemory(chunk.length)) {
          inMemory += chunk.length;
          chunks.push(chunk);
          continue;
        }
        if (fitsRequest) budget.noteSpooledForBudget();
        spool = await Spool.create(limits.dir, budget);
        budget.releaseMemory(inMemory);
        inMemory = 0;
        chunks.push(chunk);
        for (const c of chunks.splice(0)) if (!(await spool.write(c))) return await spoolFull();
        continue;
      }
      if (!(await spool.write(chunk))) return await spoolFull();
    }
  } catch (err) {
    clearTimeout(timer);
    await giveBack();
    // The client went away (aborted) mid-body: nobody to answer.
    if (req.destroyed || (err as { code?: string }).code === 'ECONNRESET') return undefined;
    throw err;
  }
  if (await clientWentAway(req, length)) {
    await giveBack();
    return undefined;
  }
  if (spool) {
    const s = spool;
    return { length, where: 'file', take: () => s.stream(), release: () => s.release() };
  }
  const whole = Buffer.concat(chunks, length);
  let held = inMemory;
  return {
    length,
    where: 'memory',
    take: () => whole,
    release: () => {
      budget.releaseMemory(held);
      held = 0;
    },
  };

  async function spoolFull(): Promise<StrataError> {
    stopReading(req, it);
    await giveBack();
    budget.noteRefused();
    const b = budget.figures();
    return new StrataError('REQUEST_BODY_BUFFERS_FULL', `request bodies spooled by this node hold ${b.spoolBytes} of ${b.spoolBudgetBytes} bytes (limits.requestBodySpoolBudgetBytes); retry later`);
  }
}

/**
 * A refused body is read no further. The iterator lets go of the request (at
 * once, or — when a read is pending, as after a pause — once that read ends).
 * HTTP/2: the request stays unread, so flow control holds the client to its
 * window until the stream is reset after the answer. HTTP/1.1: what still comes
 * is read and dropped, so a client still sending is not blocked from reading the
 * answer before the connection closes (./listener.ts lingers for it).
 */
function stopReading(req: IncomingMessage, it: AsyncIterator<Buffer>): void {
  const done = it.return?.();
  if (req.httpVersionMajor === 2 || done === undefined) return;
  done.then(
    () => req.resume(),
    () => undefined,
  );
}

/**
 * True when the body that just ended was not sent whole: the request was aborted
 * (HTTP/1.1 connection cut, HTTP/2 stream reset), or fewer bytes came than
 * Content-Length declared.
 *
 * node:http2 ends the body of a stream reset mid-way as if it were complete: the
 * end of the readable side is delivered first, and the reset (rstCode, 'aborted',
 * the stream destroyed) only after it, within the same read of the socket. So for
 * HTTP/2 the state is looked at once that read is over (setImmediate runs after
 * the I/O callbacks of this loop turn). A reset that arrives later, after a body
 * the client did finish, is the response's business, not the body's.
 */
export async function clientWentAway(req: IncomingMessage, length: number): Promise<boolean> {
  const cl = req.headers['content-length'];
  if (cl !== undefined && /^\d+$/.test(cl) && Number(cl) !== length) return true;
  const stream = (req as { stream?: { rstCode: number; destroyed: boolean; closed: boolean } }).stream;
  if (stream) await new Promise<void>((resolve) => setImmediate(resolve));
  if (req.aborted) return true;
  // rstCode other than NO_ERROR (0): reset; closed or destroyed before any response: gone.
  return stream !== undefined && (stream.rstCode !== 0 || stream.destroyed || stream.closed);
}
