// The hand-built access line is valid JSON in pino's format, whatever the URL holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { AccessLog } from '../../src/observability/access-log.js';

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
