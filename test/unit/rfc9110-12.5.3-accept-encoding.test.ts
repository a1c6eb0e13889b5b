// RFC 9110 §12.5.3 Accept-Encoding: negotiation tables (transform/negotiate.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Negotiator, parseAcceptEncoding } from '../../src/transform/negotiate.js';

const n = new Negotiator(['br', 'gzip', 'zstd']);

test('chosen coding per Accept-Encoding value', () => {
  const table: [string | undefined, string][] = [
    [undefined, 'identity'], // absent: identity
    ['', 'identity'], // empty: identity only
    ['   ', 'identity'],
    ['gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['x-gzip', 'gzip'],
    ['br', 'br'],
    ['gzip, br', 'br'], // equal weights: the operator's order
    ['br, gzip', 'br'],
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip;q=1.0, br;q=0.5', 'gzip'], // weights beat the order
    ['br;q=0.8, gzip;q=0.9, zstd;q=1', 'zstd'],
    ['gzip;q=0', 'identity'],
    ['br;q=0, gzip', 'gzip'],
    ['*', 'br'],
    ['*;q=0.5, gzip', 'gzip'],
    ['br;q=0.5, gzip;q=0.5, zstd;q=0.5, *', 'identity'], // identity unlisted but weighted by `*`: q=1 beats 0.5
    ['br;q=0.5, gzip;q=0.5, *', 'zstd'], // `*` covers zstd too
    ['gzip;q=0.2, *;q=0.9', 'br'], // `*` weighs br and identity alike: a tie goes to the coding
    ['gzip;q=0.5, *;q=0', 'gzip'],
    ['*;q=0', 'identity'], // nothing acceptable: identity all the same
    ['identity;q=0', 'identity'],
    ['identity;q=0, gzip', 'gzip'],
    ['identity', 'identity'],
    ['gzip;q=0.5', 'gzip'], // identity unlisted: acceptable, but below listed codings
    ['gzip;q=0.5, identity', 'identity'], // identity listed and preferred
    ['gzip, identity', 'gzip'],
    ['deflate, compress', 'identity'], // nothing Strata makes
    ['gzip,,br', 'br'], // empty list members are allowed
    ['gzip ; q=0.5 , br ; q=0.4', 'gzip'],
    ['br;level=5', 'br'], // unknown parameters ignored
    // Malformed: treated as absent.
    ['gzip;q=2', 'identity'],
    ['gzip;q=0.1234', 'identity'],
    ['gzip;q', 'identity'],
    ['g zip', 'identity'],
    ['gzip;q=abc, br', 'identity'],
    [';q=1', 'identity'],
    ['"gzip"', 'identity'],
  ];
  for (const [value, chosen] of table) assert.equal(n.acceptance(value).chosen, chosen, JSON.stringify(value));
});

test('accepts(): q > 0, identity unless excluded', () => {
  const a = n.acceptance('gzip;q=0.5, identity;q=0');
  assert.equal(a.accepts('gzip'), true);
  assert.equal(a.accepts('br'), false);
  assert.equal(a.accepts('identity'), false);
  const star = n.acceptance('*;q=0.1, br;q=0');
  assert.equal(star.accepts('gzip'), true);
  assert.equal(star.accepts('br'), false);
  assert.equal(star.accepts('identity'), true);
  assert.equal(n.acceptance(undefined).accepts('gzip'), false);
  assert.equal(n.acceptance(undefined).accepts('identity'), true);
  assert.equal(n.acceptance('').accepts('gzip'), false);
});

test('the preference order is the operator’s; codings not offered are never chosen', () => {
  assert.equal(new Negotiator(['gzip', 'br']).acceptance('br, gzip').chosen, 'gzip');
  // Node 20 has no zstd: it is simply not offered.
  assert.equal(new Negotiator(['br', 'gzip']).acceptance('zstd').chosen, 'identity');
  assert.equal(new Negotiator(['br', 'gzip']).acceptance('zstd, gzip;q=0.1').chosen, 'gzip');
  assert.equal(new Negotiator([]).acceptance('gzip, br').chosen, 'identity');
});

test('parse: weights per coding, the highest of a repeated one; malformed is undefined', () => {
  assert.deepEqual([...parseAcceptEncoding('gzip;q=0.2, GZIP;q=0.7, br')!], [['gzip', 0.7], ['br', 1]]);
  assert.equal(parseAcceptEncoding('gzip;q=1.5'), undefined);
  assert.equal(parseAcceptEncoding('gzip;=1'), undefined);
});

test('the memo is bounded: invented values cannot grow it without limit', () => {
  const small = new Negotiator(['br', 'gzip'], 10);
  for (let i = 0; i < 1000; i++) small.acceptance(`gzip;q=0.${i % 10}${i % 7}, x${i}`);
  assert.ok((small as unknown as { memo: Map<string, unknown> }).memo.size <= 10);
  assert.equal(small.acceptance('br').chosen, 'br');
});
