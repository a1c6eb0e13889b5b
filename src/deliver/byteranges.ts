// multipart/byteranges bodies (RFC 9110 §14.6): one part per range, each with the
// representation's Content-Type and its own Content-Range. The whole length is
// known before the first byte (parts are computed up front), so the answer has a
// Content-Length and a client can tell a cut body from a complete one. Part bytes
// come from the body's range reads: a disk body reads only the requested bytes.

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ByteRange } from '../http/range.js';
import type { Body } from '../store/types.js';

export interface MultipartPlan {
  /** The Content-Type field value of the whole answer. */
  contentType: string;
  /** Content-Length of the whole answer. */
  length: number;
  parts: { head: Buffer; range: ByteRange }[];
  tail: Buffer;
}

export function planMultipart(ranges: readonly ByteRange[], size: number, partType: string | undefined, boundary = randomBytes(12).toString('hex')): MultipartPlan {
  const typeLine = partType ? `Content-Type: ${partType}\r\n` : '';
  let length = 0;
  const parts = ranges.map((range) => {
    const head = Buffer.from(`\r\n--${boundary}\r\n${typeLine}Content-Range: bytes ${range.start}-${range.end}/${size}\r\n\r\n`, 'latin1');
    length += head.length + range.end - range.start + 1;
    return { head, range };
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  length += tail.length;
  return { contentType: `multipart/byteranges; boundary=${boundary}`, length, parts, tail };
}

/** The whole multipart body at once, for a body held in memory. */
export function multipartBuffer(plan: MultipartPlan, buffer: Buffer): Buffer {
  const chunks: Buffer[] = [];
  for (const p of plan.parts) chunks.push(p.head, buffer.subarray(p.range.start, p.range.end + 1));
  chunks.push(plan.tail);
  return Buffer.concat(chunks, plan.length);
}

/** The multipart body streamed part by part from range reads (errors of a read end the stream with that error). */
export function multipartStream(plan: MultipartPlan, body: Body): Readable {
  async function* parts(): AsyncGenerator<Buffer> {
    for (const p of plan.parts) {
      yield p.head;
      yield* body.stream(p.range.start, p.range.end) as AsyncIterable<Buffer>;
    }
    yield plan.tail;
  }
  return Readable.from(parts(), { objectMode: false });
}
