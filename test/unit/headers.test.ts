// Header normal form (RFC 9110 §5.2/§5.3 field lines and list combination) and
// hop-by-hop fields (RFC 9110 §7.6.1): src/http/headers.ts. Pure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { connectionTokens, fromIncoming, fromUndici, splitList, toRawPairs, withoutHopByHop, type HeaderMap } from '../../src/http/headers.js';

describe('fromIncoming / fromUndici (RFC 9110 §5.3)', () => {
  test('§5.3 repeated list fields are joined with ", " (PITFALLS 5: no arrays reach the policy)', () => {
    const h = fromIncoming({ 'cache-control': ['max-age=60', 'public'] as unknown as string, vary: 'accept' } as IncomingHttpHeaders);
    assert.deepEqual(h, { 'cache-control': 'max-age=60, public', vary: 'accept' });
  });
  test('§5.3 Set-Cookie is never comma-joined (RFC 6265 §3): kept newline-separated', () => {
    const h = fromIncoming({ 'set-cookie': ['a=1; Expires=Wed, 09 Jun 2021 10:18:14 GMT', 'b=2'] });
    assert.equal(h['set-cookie'], 'a=1; Expires=Wed, 09 Jun 2021 10:18:14 GMT\nb=2');
  });
  test('undefined values are dropped', () => {
    assert.deepEqual(fromIncoming({ etag: undefined, age: '1' }), { age: '1' });
  });
  test('undici string[] values are joined the same way', () => {
    assert.deepEqual(fromUndici({ 'cache-control': ['no-cache', 'no-store'], 'set-cookie': ['a=1', 'b=2'], etag: '"x"', x: undefined }), {
      'cache-control': 'no-cache, no-store',
      'set-cookie': 'a=1\nb=2',
      etag: '"x"',
    });
  });
});

describe('connectionTokens (RFC 9110 §7.6.1)', () => {
  const cases: { name: string; headers: HeaderMap; want: string[] }[] = [
    { name: '§7.6.1 no Connection field', headers: {}, want: [] },
    { name: '§7.6.1 options are case-insensitive and trimmed', headers: { connection: 'Keep-Alive, X-Trace ,, close' }, want: ['keep-alive', 'x-trace', 'close'] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual([...connectionTokens(c.headers)], c.want));
});

describe('withoutHopByHop (RFC 9110 §7.6.1)', () => {
  test('§7.6.1 hop-by-hop fields are removed', () => {
    const h: HeaderMap = {
      connection: 'close',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      'proxy-authenticate': 'Basic',
      'proxy-authorization': 'Basic abc',
      'content-type': 'text/plain',
      etag: '"a"',
    };
    assert.deepEqual(withoutHopByHop(h), { 'content-type': 'text/plain', etag: '"a"' });
  });
  test('§7.6.1 fields named in Connection are removed too', () => {
    assert.deepEqual(withoutHopByHop({ connection: 'X-Secret, keep-alive', 'x-secret': '1', 'x-public': '2' }), { 'x-public': '2' });
  });
  test('the input is not modified', () => {
    const h: HeaderMap = { connection: 'close', a: '1' };
    withoutHopByHop(h);
    assert.deepEqual(h, { connection: 'close', a: '1' });
  });
});

describe('splitList (RFC 9110 §5.6.1)', () => {
  const cases: { name: string; value: string | undefined; want: string[] }[] = [
    { name: '§5.6.1 absent', value: undefined, want: [] },
    { name: '§5.6.1 empty', value: '', want: [] },
    { name: '§5.6.1 members are trimmed', value: ' a ,b,\tc ', want: ['a', 'b', 'c'] },
    { name: '§5.6.1 empty members are ignored', value: 'a,, ,b,', want: ['a', 'b'] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(splitList(c.value), c.want));
});

describe('toRawPairs', () => {
  test('Set-Cookie is split back into one field line per cookie', () => {
    assert.deepEqual(toRawPairs({ 'content-type': 'text/plain', 'set-cookie': 'a=1\nb=2' }), ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2']);
  });
  test('appends to a given array', () => {
    const into = ['x', '1'];
    assert.equal(toRawPairs({ y: '2' }, into), into);
    assert.deepEqual(into, ['x', '1', 'y', '2']);
  });
  test('fromIncoming → toRawPairs round-trips Set-Cookie', () => {
    const cookies = ['a=1; Path=/', 'b=2; Expires=Wed, 09 Jun 2021 10:18:14 GMT'];
    assert.deepEqual(toRawPairs(fromIncoming({ 'set-cookie': cookies })), ['set-cookie', cookies[0], 'set-cookie', cookies[1]]);
  });
});
