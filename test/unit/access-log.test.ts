// The hand-built access line is valid JSON in pino's format, whatever the URL holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog } from '../../src/observability/access-log.js';
import { byteLogDestination, lendingDestination } from '../../src/observability/log-destination.js';
import { createLogger } from '../../src/observability/logger.js';

function capture(level = 'info') {
  const lines: string[] = [];
  const logger = pino({ level }, { write: (s: string) => lines.push(s) });
  return { lines, log: new AccessLog(logger, 'edge "1"', () => 42) };
}

const base = { id: 7, method: 'GET', host: 'h', status: 200, bytes: 3, cache: 'hit', upstream: undefined, ms: 1.25, aborted: false };

test('lines parse as JSON with every field, for plain and hostile URLs', () => {
  const { lines, log } = capture();
  const urls = ['/plain?a=1', '/q"uote\\back', '/é/ü', '/\u0001ctl'];
  for (const url of urls) log.record({ ...base, url });
  log.record({ ...base, url: '/x', upstream: 'http://o', aborted: true });
  log.flush();
  const parsed = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(parsed.map((p) => p.url), [...urls, '/x']);
  assert.deepEqual(parsed[0], { level: 30, time: 42, node: 'edge "1"', msg: 'access', id: 7, method: 'GET', url: '/plain?a=1', host: 'h', status: 200, bytes: 3, cache: 'hit', ms: 1.25 });
  assert.equal(parsed[4]!.upstream, 'http://o');
  assert.equal(parsed[4]!.aborted, true);
});

test('nothing is written when the level is above info, and nothing before a flush is due', () => {
  const quiet = capture('warn');
  quiet.log.record({ ...base, url: '/a' });
  quiet.log.flush();
  assert.equal(quiet.lines.length, 0);
  const batched = capture();
  batched.log.record({ ...base, url: '/a' });
  assert.equal(batched.lines.length, 0, 'held for the batch');
  batched.log.flush();
  assert.equal(batched.lines.length, 1);
});

test('lines are ASCII: characters beyond it are written as \\u escapes, and a line longer than a batch still goes out whole', () => {
  const { lines, log } = capture();
  const long = '/' + 'x'.repeat(100_000);
  log.record({ ...base, url: '/é/\u{1F600}', host: 'hôst' });
  log.record({ ...base, url: long });
  log.flush();
  const text = lines.join('');
  assert.match(text, /^[\x00-\x7f]*$/, 'pure ASCII');
  const parsed = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(parsed.map((p) => p.url), ['/é/\u{1F600}', long]);
  assert.equal(parsed[0]!.host, 'hôst');
});

test("the node's byte destination: pino's lines and access batches reach the file whole and in order, non-ASCII intact", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-log-'));
  try {
    const file = join(dir, 'node.log');
    const dest = byteLogDestination(file);
    const logger = createLogger('info', 'edge-1', dest);
    const log = new AccessLog(logger, 'edge-1', () => 42);
    logger.info({ city: 'Zürich' }, 'first');
    log.record({ ...base, url: '/a' });
    log.flush();
    logger.warn('second ✓');
    // Enough lines for several full batches, then one longer than a batch.
    for (let i = 0; i < 3000; i++) log.record({ ...base, id: i, url: `/many/${i}/${'p'.repeat(100)}` });
    log.record({ ...base, url: '/' + 'y'.repeat(300_000) });
    log.record({ ...base, url: '/last' });
    log.flush();
    await new Promise<void>((resolve, reject) => dest.flush((err) => (err ? reject(err) : resolve())));
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3 + 3000 + 2);
    assert.equal(lines[0]!.city, 'Zürich');
    assert.equal(lines[1]!.url, '/a');
    assert.equal(lines[2]!.msg, 'second ✓');
    assert.deepEqual(lines.slice(3, 3003).map((l) => l.id), Array.from({ length: 3000 }, (_, i) => i));
    assert.equal((lines[3003]!.url as string).length, 300_001);
    assert.equal(lines[3004]!.url, '/last');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the node's byte destination lends a batch buffer again only once its bytes are written", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-log-'));
  try {
    const file = join(dir, 'node.log');
    const dest = byteLogDestination(file);
    // Full enough to be lent, not copied out (a quiet node's small batches are).
    const line = `{"pad":"${'p'.repeat(100)}"}\n`;
    const fill = (b: Buffer, lines: number): number => {
      for (let i = 0; i < lines; i++) b.write(line, i * line.length, 'latin1');
      return lines * line.length;
    };
    const first = dest.batchBuffer();
    dest.writeBatch(first, fill(first, 1000));
    // Not written yet: the next batch must be another buffer, or the first's bytes could change under the write.
    const second = dest.batchBuffer();
    assert.notEqual(second.buffer, first.buffer);
    dest.writeBatch(second, fill(second, 1000));
    await new Promise<void>((resolve, reject) => dest.flush((err) => (err ? reject(err) : resolve())));
    const again = [dest.batchBuffer(), dest.batchBuffer()].map((b) => b.buffer);
    assert.ok(again.includes(first.buffer) && again.includes(second.buffer), 'both written buffers are lent again');
    assert.equal(await readFile(file, 'utf8'), line.repeat(2000));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a destination whose writes are never reported (a stalled or broken pipe) holds a bounded number of batch buffers', () => {
  const taken: Buffer[] = [];
  // Bytes accepted, no write ever reported: pino's no-op after EPIPE, or a pipe nobody reads.
  const dest = lendingDestination({ write: (b) => (taken.push(b), true), flush: () => {}, flushSync: () => {}, on: () => {} });
  const buffers = new Set<ArrayBufferLike>();
  for (let i = 0; i < 500; i++) {
    const b = dest.batchBuffer();
    buffers.add(b.buffer);
    b.fill(0x61, 0, 100_000);
    dest.writeBatch(b, 100_000);
  }
  assert.ok(buffers.size <= 20, `${buffers.size} batch buffers for 500 batches`);
  // Past the bound the batches are copied out: the bytes handed over are still each batch's own.
  assert.equal(taken.length, 500);
  assert.ok(taken.every((t) => t.length === 100_000 && t[0] === 0x61 && t[99_999] === 0x61));
  // A quiet node's small batch is copied out, its buffer lent again at once.
  const quiet = lendingDestination({ write: () => true, flush: () => {}, flushSync: () => {}, on: () => {} });
  const q = quiet.batchBuffer();
  quiet.writeBatch(q, 300);
  assert.equal(quiet.batchBuffer().buffer, q.buffer);
});

test('lines the output has no room for are dropped whole and counted; a dropped batch goes back to the pool; the count is told once it drains', () => {
  const handlers: Record<string, (arg?: unknown) => void> = {};
  let held = 0;
  const cap = 250_000;
  // sonic-boom with maxLength: a write past it emits 'drop' within write() and keeps nothing.
  const boom = {
    write: (b: Buffer) => {
      if (held + b.length > cap) handlers['drop']!(b);
      else held += b.length;
      return true;
    },
    flush: () => {},
    flushSync: () => {},
    on: (event: string, f: (arg?: unknown) => void) => void (handlers[event] = f),
  };
  const counted: number[] = [];
  const told: [number, number][] = [];
  const dest = lendingDestination(boom as never, { dropped: (n) => counted.push(n), drained: (lines, bytes) => told.push([lines, bytes]) });
  const line = Buffer.from('x'.repeat(99) + '\n');
  const batch = () => {
    const b = dest.batchBuffer();
    for (let i = 0; i < 1000; i++) line.copy(b, i * 100);
    return b;
  };
  const first = batch();
  dest.writeBatch(first, 100_000);
  const second = batch();
  dest.writeBatch(second, 100_000);
  const dropped = batch();
  dest.writeBatch(dropped, 100_000); // past the cap: dropped whole, its buffer lent again at once
  assert.ok(dest.batchBuffer().buffer === dropped.buffer, 'the dropped batch is back in the pool');
  dest.write('{"msg":"a"}\n');
  assert.deepEqual(counted, [1000]);
  // Written: the lent batches come back (the dropped one counted no bytes), then the output drains.
  held = 0;
  handlers['write']!(200_000 + 12);
  handlers['drain']!();
  assert.deepEqual(told, [[1000, 100_000]]);
  const again = dest.batchBuffer().buffer;
  assert.ok(again === first.buffer || again === second.buffer, 'a lent batch went back once its bytes were written');
  handlers['drain']!();
  assert.equal(told.length, 1, 'told once');
});

test('numbers are written as JSON.stringify writes them: ids and ms, whole, tenths, hundredths and odd values', () => {
  const { lines, log } = capture();
  const cases: Array<[number, number]> = [
    [0, 0], [1, 0.05], [9, 0.1], [10, 1.5], [99, 2], [100, 10.25], [12345, 123.4], [2 ** 31 + 7, 0.01], [Number.MAX_SAFE_INTEGER, 99999.99], [3, 1e21], [4, -1],
  ];
  for (const [id, ms] of cases) log.record({ ...base, id, url: '/n', ms });
  log.flush();
  const raw = lines.join('').trim().split('\n');
  assert.equal(raw.length, cases.length);
  raw.forEach((line, i) => {
    const [id, ms] = cases[i]!;
    assert.ok(line.includes(`"id":${JSON.stringify(id)},`), line);
    assert.ok(line.includes(`"ms":${JSON.stringify(ms)}}`), line);
    assert.deepEqual(JSON.parse(line).ms, ms);
  });
});
