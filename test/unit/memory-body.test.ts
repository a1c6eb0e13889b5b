// How the memory tier keeps a body (src/store/memory.ts keptBody, src/store/memory-body.ts):
// the chunks a miss arrived in are kept by reference when their memory is their own
// (socket reads), a view into a shared slab is copied; a body kept in chunks streams
// any byte range exactly as the joined body would, and joins once when asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keptBody } from '../../src/store/memory/memory.js';
import { memoryBody } from '../../src/store/memory/memory-body.js';

/** A chunk in memory of its own, like a socket read. */
function own(text: string): Buffer {
  return Buffer.from(new Uint8Array(Buffer.from(text)).buffer);
}

async function read(r: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const c of r) s += (c as Buffer).toString();
  return s;
}

test('chunks with memory of their own are kept by reference; a slab view is copied', () => {
  const a = own('hello ');
  const b = own('world');
  const kept = keptBody([a, b], 11);
  assert.ok(Array.isArray(kept), 'kept as chunks');
  assert.equal((kept as Buffer[])[0], a);
  assert.equal(keptBody([a], 6), a, 'one chunk: itself');
  const pooled = Buffer.from('tiny'); // a view into Node's 8 KiB pool
  const copied = keptBody([pooled], 4) as Buffer;
  assert.ok(Buffer.isBuffer(copied) && copied !== pooled && copied.buffer.byteLength === 4, 'a slab view is copied into memory of its own');
  assert.equal(copied.toString(), 'tiny');
});

test('a body kept in chunks streams every range like the joined body, and joins on demand', async () => {
  const parts = [own('0123'), own('4567'), own('89')];
  const body = memoryBody(parts);
  const whole = '0123456789';
  assert.equal(body.size, 10);
  assert.deepEqual(body.chunks, parts, 'held as it arrived');
  for (const [start, end] of [[0, 9], [0, 0], [3, 4], [4, 7], [5, 9], [9, 9], [2, 8]] as const) {
    assert.equal(await read(body.stream(start, end)), whole.slice(start, end + 1), `bytes ${start}-${end}`);
  }
  assert.equal(await read(body.stream()), whole);
  assert.equal(body.buffer!.toString(), whole);
  assert.equal(body.chunks!.length, 1, 'joined once, then kept joined');
  assert.equal(await read(body.stream(3, 5)), '345');
});
