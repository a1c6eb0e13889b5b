// The compression stage's pure parts: what is compressed (each never-compress
// rule), which variant answers, what is made for a client, and the ETags and
// fields clients see.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMPRESSIBLE_TYPES } from '../../src/config/schema/compress.js';
import type { EntryMeta } from '../../src/entry.js';
import { Negotiator } from '../../src/transform/negotiate.js';
import { codingKeyed, contentCoding, typeMatches, whyNotCompressed } from '../../src/transform/rules.js';
import { chooseVariant, planFor } from '../../src/transform/select.js';
import { derivedMeta, presentedHeaders, variantEtag } from '../../src/transform/variant-meta.js';
import { entryMeta as metaFor } from '../fixtures/entry-meta.js';

const rules = { types: COMPRESSIBLE_TYPES, minBytes: 1024 };
const n = new Negotiator(['br', 'gzip']);

test('compressible types: text, JSON, JavaScript, XML, SVG, wasm, HLS and DASH playlists; never media or compressed types', () => {
  for (const t of ['text/html', 'text/css', 'text/plain', 'application/json', 'application/ld+json', 'application/javascript', 'application/xml', 'image/svg+xml', 'application/wasm', 'application/vnd.apple.mpegurl', 'application/dash+xml', 'application/manifest+json']) {
    assert.equal(typeMatches(t, rules.types), true, t);
  }
  for (const t of ['image/png', 'image/jpeg', 'video/mp4', 'audio/mpeg', 'application/zip', 'application/gzip', 'font/woff2', 'application/octet-stream', 'text/event-stream', 'application/pdf', '']) {
    assert.equal(typeMatches(t, rules.types), false, t);
  }
  // A pattern cannot bring a media type back.
  assert.equal(typeMatches('image/png', ['image/*']), false);
  assert.equal(typeMatches('video/mp4', ['+mp4', 'video/*']), false);
});

test('each never-compress rule has its reason', () => {
  const h = { 'content-type': 'text/html; charset=utf-8' };
  assert.equal(whyNotCompressed(200, h, 5000, rules), undefined);
  assert.equal(whyNotCompressed(206, h, 5000, rules), 'status');
  assert.equal(whyNotCompressed(404, h, 5000, rules), 'status');
  assert.equal(whyNotCompressed(200, { ...h, 'content-encoding': 'gzip' }, 5000, rules), 'encoded');
  assert.equal(whyNotCompressed(200, { ...h, 'cache-control': 'max-age=60, No-Transform' }, 5000, rules), 'no-transform');
  assert.equal(whyNotCompressed(200, { 'content-type': 'image/png' }, 5000, rules), 'type');
  assert.equal(whyNotCompressed(200, {}, 5000, rules), 'type');
  assert.equal(whyNotCompressed(200, h, 1023, rules), 'small');
  assert.equal(whyNotCompressed(200, h, 1024, rules), undefined);
  assert.equal(whyNotCompressed(200, h, -1, rules), 'size-unknown');
  assert.equal(whyNotCompressed(200, h, 5000, rules, true), 'slice');
});

test('keyed by coding: compressible 200s and decodable codings; not no-transform, not Vary: *', () => {
  assert.equal(codingKeyed(200, { 'content-type': 'text/css' }, rules), true);
  assert.equal(codingKeyed(200, { 'content-type': 'image/png', 'content-encoding': 'gzip' }, rules), true);
  assert.equal(codingKeyed(200, { 'content-type': 'image/png' }, rules), false);
  assert.equal(codingKeyed(200, { 'content-type': 'text/css', 'content-encoding': 'compress' }, rules), false);
  assert.equal(codingKeyed(200, { 'content-type': 'text/css', 'cache-control': 'no-transform' }, rules), false);
  assert.equal(codingKeyed(200, { 'content-type': 'text/css', vary: '*' }, rules), false);
  assert.equal(codingKeyed(404, { 'content-type': 'text/css' }, rules), false);
});

test("an origin's Content-Encoding: case folded, x-gzip is gzip, identity members dropped (RFC 9110 §8.4.1)", () => {
  assert.equal(contentCoding({}), 'identity');
  assert.equal(contentCoding({ 'content-encoding': ' GZip ' }), 'gzip');
  assert.equal(contentCoding({ 'content-encoding': 'x-gzip' }), 'gzip');
  assert.equal(contentCoding({ 'content-encoding': 'gzip, identity' }), 'gzip');
  assert.equal(contentCoding({ 'content-encoding': 'identity,br' }), 'br');
  assert.equal(contentCoding({ 'content-encoding': 'Identity' }), 'identity');
  assert.equal(contentCoding({ 'content-encoding': 'identity, ,' }), 'identity');
  // Two codings applied in turn are neither one: nothing Strata decodes, never keyed as one of them.
  assert.equal(contentCoding({ 'content-encoding': 'gzip, br' }), 'gzip, br');
  assert.equal(codingKeyed(200, { 'content-type': 'text/css', 'content-encoding': 'gzip, br' }, rules), false);
  assert.equal(codingKeyed(200, { 'content-type': 'text/css', 'content-encoding': 'gzip, identity' }, rules), true);
});

function keyed(coding: string, extra: Partial<EntryMeta> = {}): EntryMeta {
  const m = metaFor('GET http://s/x', { headers: { 'content-type': 'text/css', etag: '"e"', ...(coding === 'identity' ? {} : { 'content-encoding': coding }) }, bodySize: 5000, ...extra });
  return { ...m, key: `${m.primaryKey}\naccept-encoding=${coding}\n`, varyNames: ['accept-encoding'], varyValues: { 'accept-encoding': coding }, byCoding: true };
}

test('variant choice: the chosen coding, else identity, else an accepted coding, else one to decode', () => {
  const id = keyed('identity');
  const br = keyed('br');
  const gz = keyed('gzip');
  assert.equal(chooseVariant([id, br, gz], {}, n.acceptance('gzip, br')).meta, br);
  assert.equal(chooseVariant([id, br, gz], {}, n.acceptance('gzip')).meta, gz);
  assert.equal(chooseVariant([id, br], {}, n.acceptance('gzip')).meta, id);
  assert.equal(chooseVariant([br, gz], {}, n.acceptance(undefined)).meta, br, 'nothing acceptable: one to decode');
  assert.equal(chooseVariant([gz], {}, n.acceptance('gzip;q=0.1, br')).meta, gz, 'an accepted coding');
  assert.equal(chooseVariant([keyed('compress')], {}, n.acceptance('gzip')).meta, undefined, 'never a coding neither accepted nor decodable');
  // Keyed only because the origin varied on Accept-Encoding: never decoded, so never chosen for a client without its coding.
  const gzNoTransform = keyed('gzip', { headers: { 'content-type': 'text/css', 'content-encoding': 'gzip', 'cache-control': 'no-transform' } });
  assert.equal(chooseVariant([gzNoTransform], {}, n.acceptance('identity')).meta, undefined, 'no-transform: not decoded, so a miss');
  assert.equal(chooseVariant([gzNoTransform], {}, n.acceptance('gzip')).meta, gzNoTransform, 'served to a client that accepts it');
  assert.equal(chooseVariant([keyed('gzip', { status: 404 })], {}, n.acceptance('gzip;q=0')).meta, undefined, 'a 404 is not decoded either');
  // A variant made from an older body is outdated once a newer one is stored.
  const newId = { ...keyed('identity'), responseTimeMs: id.responseTimeMs + 1000, headers: { 'content-type': 'text/css', etag: '"f"' } };
  const oldBr = { ...br, transform: { coding: 'br', level: 'fast' as const, sourceBytes: 5000 } };
  assert.equal(chooseVariant([newId, oldBr], {}, n.acceptance('br')).meta, newId);
  const freshBr = { ...oldBr, headers: { ...oldBr.headers, etag: '"f"' } };
  assert.equal(chooseVariant([newId, freshBr], {}, n.acceptance('br')).meta, freshBr);
});

test('plan per client: encode identity, decode a coding the client lacks; HEAD plans as its GET (its fields), other methods nothing', () => {
  const id = keyed('identity');
  assert.deepEqual(planFor(id, 5000, 'GET', n.acceptance('br'), rules), { op: 'encode', coding: 'br' });
  assert.deepEqual(planFor(id, 5000, 'HEAD', n.acceptance('br'), rules), { op: 'encode', coding: 'br' });
  assert.equal(planFor(id, 5000, 'OPTIONS', n.acceptance('br'), rules), undefined);
  assert.equal(planFor(id, 100, 'GET', n.acceptance('br'), rules), undefined, 'small');
  assert.equal(planFor(id, 5000, 'GET', n.acceptance(undefined), rules), undefined);
  const gz = keyed('gzip');
  assert.deepEqual(planFor(gz, 5000, 'GET', n.acceptance(undefined), rules), { op: 'decode', from: 'gzip' });
  assert.equal(planFor(gz, 5000, 'GET', n.acceptance('gzip;q=0.5, br'), rules), undefined, 'accepted as it is');
  const plain = metaFor('GET http://s/y', { headers: { 'content-type': 'text/css' } });
  assert.equal(planFor(plain, 5000, 'GET', n.acceptance('br'), rules), undefined, 'not keyed by coding');
});

test("a request's no-transform: nothing planned, no made variant chosen, the origin's coding sent as it is", () => {
  const nt = (ae: string | undefined) => n.forRequest({ ...(ae === undefined ? {} : { 'accept-encoding': ae }), 'cache-control': 'max-age=0, No-Transform' });
  assert.equal(nt('br').mayTransform, false);
  assert.equal(n.forRequest({ 'accept-encoding': 'br', 'cache-control': 'no-cache' }).mayTransform, true);
  assert.equal(nt('br'), nt('br'), 'one per acceptance');
  const id = keyed('identity');
  const madeBr = { ...keyed('br'), transform: { coding: 'br', level: 'fast' as const, sourceBytes: 5000 } };
  assert.equal(planFor(id, 5000, 'GET', nt('br'), rules), undefined);
  assert.equal(chooseVariant([id, madeBr], {}, nt('br')).meta, id);
  assert.equal(chooseVariant([madeBr], {}, nt('br')).meta, undefined, 'only a made variant: a miss');
  const gz = keyed('gzip');
  const decoded = { ...keyed('identity'), transform: { coding: 'identity', level: 'decoded' as const, sourceBytes: 3000 } };
  assert.equal(chooseVariant([gz, decoded], {}, nt(undefined)).meta, gz, "the origin's gzip, not the copy decoded from it");
  assert.equal(planFor(gz, 5000, 'GET', nt(undefined), rules), undefined, 'sent as it is');
});

test('ETags: weak and suffixed per coding; the stored one stays the origin’s; Vary keeps the origin’s members', () => {
  assert.equal(variantEtag('"abc"', 'br'), 'W/"abc-br"');
  assert.equal(variantEtag('W/"abc"', 'gzip'), 'W/"abc-gzip"');
  const id = keyed('identity', {});
  id.headers = { ...id.headers, vary: 'Origin' };
  const made = derivedMeta(id, { op: 'encode', coding: 'br' }, 'fast', 5000);
  assert.equal(made.headers['etag'], '"e"');
  assert.equal(made.headers['content-encoding'], 'br');
  assert.equal(made.headers['content-length'], undefined);
  assert.equal(made.bodySize, -1);
  assert.equal(made.key, 'GET http://s/x\naccept-encoding=br\n');
  assert.deepEqual(made.transform, { coding: 'br', level: 'fast', sourceBytes: 5000 });
  assert.equal(presentedHeaders(made)['etag'], 'W/"e-br"');
  assert.equal(presentedHeaders(made)['vary'], 'Origin, Accept-Encoding');
  assert.equal(presentedHeaders(id)['etag'], '"e"');
  const decoded = derivedMeta(keyed('gzip'), { op: 'decode', from: 'gzip' }, 'fast', 5000);
  assert.equal(decoded.headers['content-encoding'], undefined);
  assert.equal(decoded.transform?.level, 'decoded');
  assert.equal(presentedHeaders(decoded)['etag'], 'W/"e-identity"');
});

test('zstd is offered exactly where the runtime’s zlib has it (not on Node 20)', async () => {
  const zlib = await import('node:zlib');
  const { PRODUCIBLE, DECODABLE } = await import('../../src/transform/codings.js');
  const has = typeof (zlib as unknown as Record<string, unknown>)['createZstdCompress'] === 'function';
  assert.equal(PRODUCIBLE.includes('zstd'), has);
  assert.equal(DECODABLE.has('zstd'), has);
  assert.deepEqual(PRODUCIBLE.slice(0, 2), ['br', 'gzip']);
});

test('a made variant belongs to the body its source holds now: same validators, same size', async () => {
  const { sameSource, codingOnlyKey } = await import('../../src/transform/select.js');
  const src = keyed('identity');
  assert.equal(sameSource(src, src, 5000), true);
  assert.equal(sameSource(src, undefined, 5000), false, 'source gone');
  assert.equal(sameSource(src, { ...src, headers: { ...src.headers, etag: '"other"' } }, 5000), false);
  assert.equal(sameSource(src, { ...src, bodySize: 4999 }, 5000), false);
  assert.equal(sameSource(src, { ...src, responseTimeMs: 99 }, 5000), true, 'refreshed by a 304: still the same body');
  assert.equal(codingOnlyKey('GET http://s/x', 'br'), 'GET http://s/x\naccept-encoding=br\n');
});
