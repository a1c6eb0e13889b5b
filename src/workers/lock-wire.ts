// The frames workers exchange over their links (lock-links.ts): a tiny binary
// protocol on a Unix-domain socket, no HTTP and no JSON. Each frame: u32 length
// of the rest, u8 type, u32 id, u8 arg, then the payload (u32 key hashes for HAVE).
//
//   HELLO   arg = the sender's worker index (first frame of a connection);
//           id = ASK_HOLDING when the sender lacks the receiver's list: "tell me
//           what you hold" (answered with a HAVE, empty while that list loads)
//   HAVE    key hashes the sender holds; arg = WHOLE_LIST for everything on its
//           disk (its list, sent once to each worker that lacks it), 0 for what it
//           stored since the last batch (or an empty answer while its list loads)
//   WAIT    id = the asker's wait id, payload = a key lock's name (key-lock.ts):
//           "answer me when you let go of it"
//   ANSWER  id = that wait id, payload = u16 answerArg() (what the holder's fetch
//           came to: stored at w, stored nothing, or being stored at w and
//           streaming: join it), or RETRY_ARG: "I do not hold it (any more): look
//           again"

import type { Answer } from './directory.js';

export const HELLO = 1;
export const HAVE = 5;
export const WAIT = 6;
export const ANSWER = 7;
/** HELLO's id: the sender lacks the receiver's list. */
export const ASK_HOLDING = 1;
/** HAVE's arg: the hashes are everything the sender holds on disk. */
export const WHOLE_LIST = 1;
/** An ANSWER's "I do not hold that lock": never an answerArg (workers ≤ 256). */
export const RETRY_ARG = 0xffff;

const HEAD = 10;

export function frame(type: number, id: number, arg: number): Buffer {
  const b = Buffer.allocUnsafe(HEAD);
  b.writeUInt32LE(HEAD - 4, 0);
  b[4] = type;
  b.writeUInt32LE(id, 5);
  b[9] = arg;
  return b;
}

/** `arg`: WHOLE_LIST for everything the sender holds, 0 for a batch of notices. */
export function haveFrame(hashes: Uint32Array, arg = 0): Buffer {
  const b = Buffer.allocUnsafe(HEAD + hashes.length * 4);
  b.writeUInt32LE(HEAD - 4 + hashes.length * 4, 0);
  b[4] = HAVE;
  b.writeUInt32LE(0, 5);
  b[9] = arg;
  Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength).copy(b, HEAD);
  return b;
}

/** A frame carrying `payload` after the head. */
export function payloadFrame(type: number, id: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(HEAD + payload.length);
  b.writeUInt32LE(HEAD - 4 + payload.length, 0);
  b[4] = type;
  b.writeUInt32LE(id, 5);
  b[9] = 0;
  payload.copy(b, HEAD);
  return b;
}

export function answerFrame(id: number, arg: number): Buffer {
  const b = Buffer.allocUnsafe(HEAD + 2);
  b.writeUInt32LE(HEAD - 4 + 2, 0);
  b[4] = ANSWER;
  b.writeUInt32LE(id, 5);
  b[9] = 0;
  b.writeUInt16LE(arg, HEAD);
  return b;
}

/** Where "fetching at w" starts (w < 256): above every "at w". */
const FETCHING = 0x200;

/** A holder's answer as a number: 0 alone, 1 + w at worker w, FETCHING + w fetching at worker w. */
export function answerArg(a: Answer): number {
  return a.kind === 'alone' ? 0 : a.kind === 'at' ? 1 + a.worker : FETCHING + a.worker;
}

export function answerOf(arg: number): Answer {
  if (arg === 0) return { kind: 'alone' };
  return arg >= FETCHING ? { kind: 'fetching', worker: arg - FETCHING } : { kind: 'at', worker: arg - 1 };
}

export interface Frame {
  type: number;
  id: number;
  arg: number;
  payload: Buffer;
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private pending: Buffer | undefined;

  constructor(private readonly onFrame: (f: Frame) => void) {}

  push(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32LE(at);
      if (buf.length - at - 4 < len) break;
      const start = at + 4;
      this.onFrame({ type: buf[start]!, id: buf.readUInt32LE(start + 1), arg: buf[start + 5]!, payload: buf.subarray(start + 6, start + len) });
      at = start + len;
    }
    buf = buf.subarray(at);
    this.pending = buf.length > 0 ? Buffer.from(buf) : undefined;
  }
}

export function hashesOf(payload: Buffer): Uint32Array {
  const out = new Uint32Array(payload.length >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = payload.readUInt32LE(i * 4);
  return out;
}
