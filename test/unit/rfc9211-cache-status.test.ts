// RFC 9211 (the Cache-Status response field): src/cache/outcome.ts. Pure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cacheStatusName, formatCacheStatus, type CacheOutcome } from '../../src/cache/outcome.js';

describe('formatCacheStatus (RFC 9211 §2)', () => {
  const cases: { name: string; o: CacheOutcome; want: string }[] = [
    { name: '§2.1 hit: served from cache', o: { result: 'hit' }, want: 'strata; hit' },
    { name: '§2.1 + §2.4 hit with remaining ttl', o: { result: 'hit', ttlS: 42 }, want: 'strata; hit; ttl=42' },
    { name: '§2.4 ttl is an integer (rounded)', o: { result: 'hit', ttlS: 41.6 }, want: 'strata; hit; ttl=42' },
    { name: '§2.4 negative ttl for a stale hit', o: { result: 'stale-hit', ttlS: -30.2, detail: 'max-stale' }, want: 'strata; hit; ttl=-30; detail=max-stale' },
    { name: '§2.2 fwd=uri-miss', o: { result: 'miss', fwd: 'uri-miss', fwdStatus: 200, stored: true, ttlS: 60 }, want: 'strata; fwd=uri-miss; fwd-status=200; stored; ttl=60' },
    { name: '§2.2 fwd=vary-miss', o: { result: 'miss', fwd: 'vary-miss', fwdStatus: 200 }, want: 'strata; fwd=vary-miss; fwd-status=200' },
    { name: '§2.2 + §2.3 fwd=stale with fwd-status=304 (revalidated)', o: { result: 'revalidated', fwd: 'stale', fwdStatus: 304, ttlS: 60 }, want: 'strata; fwd=stale; fwd-status=304; ttl=60' },
    { name: '§2.2 fwd=request (client asked for validation)', o: { result: 'revalidated', fwd: 'request', fwdStatus: 304 }, want: 'strata; fwd=request; fwd-status=304' },
    { name: '§2.2 fwd=bypass with a detail naming the reason', o: { result: 'bypass', fwd: 'bypass', fwdStatus: 200, detail: 'no-store' }, want: 'strata; fwd=bypass; fwd-status=200; detail=no-store' },
    { name: '§2.5 stored is a boolean parameter', o: { result: 'miss', fwd: 'miss', stored: true }, want: 'strata; fwd=miss; stored' },
    { name: '§2.5 stored=false is omitted', o: { result: 'miss', fwd: 'miss', stored: false }, want: 'strata; fwd=miss' },
    { name: '§2.8 detail on a miss', o: { result: 'only-if-cached', fwd: 'miss', detail: 'only-if-cached' }, want: 'strata; fwd=miss; detail=only-if-cached' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(formatCacheStatus('strata', c.o), c.want));

  test('§2 hit and fwd are never both present', () => {
    for (const fwd of ['uri-miss', 'vary-miss', 'stale', 'request', 'bypass', 'miss'] as const) {
      const s = formatCacheStatus('strata', { result: 'miss', fwd });
      assert.doesNotMatch(s, /; hit/);
      assert.match(s, new RegExp(`; fwd=${fwd}$`));
    }
  });
});

describe('cacheStatusName (RFC 9211 §2: sf-token or sf-string)', () => {
  const cases: { name: string; id: string; want: string }[] = [
    { name: 'RFC 8941 §3.3.4 a valid sf-token is used bare', id: 'strata', want: 'strata' },
    { name: 'RFC 8941 §3.3.4 tokens may contain ":", "/", "." and digits', id: 'edge-1.example.net:8080/a', want: 'edge-1.example.net:8080/a' },
    { name: 'RFC 8941 §3.3.4 a token may start with "*"', id: '*cache', want: '*cache' },
    { name: 'RFC 8941 §3.3.4 a leading digit is not a token: quoted', id: '1node', want: '"1node"' },
    { name: 'RFC 8941 §3.3.3 a space forces an sf-string', id: 'my cache', want: '"my cache"' },
    { name: 'RFC 8941 §3.3.3 DQUOTE and backslash are escaped in an sf-string', id: 'a"b\\c', want: '"a\\"b\\\\c"' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(cacheStatusName(c.id), c.want));

  test('§2 the formatted name leads the field value', () => {
    assert.equal(formatCacheStatus(cacheStatusName('my cache'), { result: 'hit' }), '"my cache"; hit');
  });
});
