// The cluster's pure pieces: rendezvous ranking (stable, balanced, minimal
// movement), peer proofs (HMAC over method, target, Host, time, nonce, sender
// and the fields sent; bounded skew; accepted once; forged claims stripped) and
// the wire form of a purge.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rank } from '../../src/cluster/ownership.js';
import { bodyMatches, checkPeer, MAX_SKEW_MS, PEER_ERROR, PEER_ERROR_SIG, PEER_FIELDS, peerErrorOf, peerErrorSignature, peerProof } from '../../src/cluster/peer-auth.js';
import { SeenProofs } from '../../src/cluster/seen-proofs.js';
import { cutAtSelf } from '../../src/cluster/hop-chain.js';
import { parseWirePurge } from '../../src/cluster/purge-wire.js';
import type { HeaderMap } from '../../src/http/headers.js';

const members = (...ids: string[]) => ids.map((id) => ({ id }));

test('rendezvous: every node ranks a key alike, whatever the order it lists members in', () => {
  for (let i = 0; i < 200; i++) {
    const a = rank(`k${i}`, members('a', 'b', 'c')).map((m) => m.id);
    const b = rank(`k${i}`, members('c', 'a', 'b')).map((m) => m.id);
    assert.deepEqual(a, b);
  }
});

test('rendezvous: keys spread evenly; removing a member moves only its own keys, to their next choice', () => {
  const owners = new Map<string, string>();
  const count: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 30_000; i++) {
    const o = rank(`/obj/${i}`, members('a', 'b', 'c'))[0]!.id;
    owners.set(`/obj/${i}`, o);
    count[o]!++;
  }
  for (const n of Object.values(count)) assert.ok(Math.abs(n - 10_000) < 500, `balanced: ${JSON.stringify(count)}`);
  for (const [k, o] of owners) {
    const after = rank(k, members('a', 'b'))[0]!.id;
    if (o !== 'c') assert.equal(after, o, 'keys of the others stay put');
    else assert.equal(after, rank(k, members('a', 'b', 'c'))[1]!.id, "c's keys go to their second choice");
  }
});

const SIGNED: HeaderMap = { host: 'site.test', accept: 'text/html', 'x-forwarded-for': '10.0.0.1', via: '1.1 node-a' };

test('peer proof: valid within the skew, refused when stale, tampered or keyed differently; a refused claim loses its fields', () => {
  const now = 1_800_000_000_000;
  const proof = peerProof('s3cret', 'node-a', 'node-b', 'GET', '/x?y=1', now, SIGNED);
  const fresh = () => new SeenProofs(MAX_SKEW_MS);
  assert.deepEqual(checkPeer('s3cret', 'node-b', 'GET', '/x?y=1', { ...SIGNED, ...proof }, now + MAX_SKEW_MS, fresh()), { peer: 'node-a' });
  const cases: [string, string, string, HeaderMap, number][] = [
    ['stale', 'GET', '/x?y=1', { ...SIGNED, ...proof }, now + MAX_SKEW_MS + 1],
    ['other target', 'GET', '/x?y=2', { ...SIGNED, ...proof }, now],
    ['other method', 'POST', '/x?y=1', { ...SIGNED, ...proof }, now],
    ['other sender', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer': 'node-b' }, now],
    ['other Host', 'GET', '/x?y=1', { ...SIGNED, ...proof, host: 'admin.test' }, now],
    ['no Host', 'GET', '/x?y=1', { ...SIGNED, ...proof, host: undefined! }, now],
    ['a signed field changed', 'GET', '/x?y=1', { ...SIGNED, ...proof, accept: 'application/json' }, now],
    ['a signed field removed', 'GET', '/x?y=1', { ...SIGNED, ...proof, via: undefined! }, now],
    ['a field dropped from the list', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer-signed': 'accept,x-forwarded-for' }, now],
    ['another nonce', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer-nonce': 'AAAAAAAAAAAAAAAA' }, now],
    ['the proof lists its own field', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer-signed': 'strata-peer-sig' }, now],
    ['no signature', 'GET', '/x?y=1', { 'strata-peer': 'node-a' }, now],
    ['only a side', 'GET', '/x?y=1', { 'strata-peer-side': 'canary' }, now],
    ['made for another node', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer-to': 'node-c' }, now],
    ['made for no node (only a health probe may be)', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer-to': undefined! }, now],
    ['the signature with padding', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer-sig': proof['strata-peer-sig'] + '=' }, now],
    ['the signature with a dot', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer-sig': proof['strata-peer-sig'] + '.' }, now],
    ['the signature in base64 rather than base64url', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer-sig': Buffer.from(proof['strata-peer-sig']!, 'base64url').toString('base64') }, now],
    ['the signature with its last unused bits set', 'GET', '/x?y=1', { ...SIGNED, ...proof, 'strata-peer-sig': proof['strata-peer-sig']!.slice(0, 42) + String.fromCharCode(proof['strata-peer-sig']!.charCodeAt(42) + 1) }, now],
  ];
  for (const [what, method, target, headers, at] of cases) {
    for (const k of Object.keys(headers)) if (headers[k] === undefined) delete headers[k];
    assert.deepEqual(checkPeer('s3cret', 'node-b', method, target, headers, at, fresh()), { peer: undefined, forged: true, why: 'invalid' }, what);
    for (const f of PEER_FIELDS) assert.equal(headers[f], undefined, `${what}: ${f} removed`);
  }
  assert.deepEqual(checkPeer('other', 'node-b', 'GET', '/x?y=1', { ...SIGNED, ...proof }, now, fresh()), { peer: undefined, forged: true, why: 'invalid' });
  assert.deepEqual(checkPeer('', 'node-b', 'GET', '/x?y=1', { ...SIGNED, ...proof }, now, fresh()), { peer: undefined, forged: true, why: 'invalid' }, 'no secret: no peer');
  assert.deepEqual(checkPeer('s3cret', 'node-b', 'GET', '/x', { ...SIGNED }, now, fresh()), { peer: undefined, forged: false });
});

test('peer proof: accepted once (a replay is refused until its time is out of the window); fields it does not cover are dropped', () => {
  const now = 1_800_000_000_000;
  const seen = new SeenProofs(MAX_SKEW_MS);
  const proof = peerProof('s3cret', 'node-a', 'node-b', 'GET', '/x', now, { ...SIGNED, 'strata-peer-side': 'canary' });
  const sent: HeaderMap = { ...SIGNED, 'strata-peer-side': 'canary', ...proof, connection: 'keep-alive', cookie: 'added=1', 'x-forwarded-host': 'evil.test' };
  assert.deepEqual(checkPeer('s3cret', 'node-b', 'GET', '/x', sent, now + 5, seen), { peer: 'node-a' });
  assert.deepEqual(sent, { ...SIGNED, 'strata-peer-side': 'canary', ...proof }, 'unsigned fields dropped (Connection too: it can name fields to drop), the proof kept');
  const again: HeaderMap = { ...SIGNED, ...proof, 'strata-peer-side': 'canary' };
  assert.deepEqual(checkPeer('s3cret', 'node-b', 'GET', '/x', again, now + 10, seen), { peer: undefined, forged: true, why: 'replayed' });
  assert.equal(again['strata-peer-side'], undefined, 'a replay loses its peer fields');
  // A new proof of the same request, at the same millisecond: another nonce, accepted.
  const retry = peerProof('s3cret', 'node-a', 'node-b', 'GET', '/x', now, SIGNED);
  assert.notEqual(retry['strata-peer-sig'], proof['strata-peer-sig']);
  assert.deepEqual(checkPeer('s3cret', 'node-b', 'GET', '/x', { ...SIGNED, ...retry }, now + 10, seen), { peer: 'node-a' });
  assert.equal(seen.size(), 2);
  // Once out of the window a proof is refused as stale, and forgotten.
  const later = peerProof('s3cret', 'node-a', 'node-b', 'GET', '/y', now + 2 * MAX_SKEW_MS, SIGNED);
  assert.deepEqual(checkPeer('s3cret', 'node-b', 'GET', '/y', { ...SIGNED, ...later }, now + 2 * MAX_SKEW_MS, seen), { peer: 'node-a' });
  assert.equal(seen.size(), 1, 'signatures whose time left the window are forgotten');
});

test('seen proofs: kept exactly while their time can still be accepted', () => {
  const seen = new SeenProofs(1000, 100);
  assert.ok(seen.firstUse('a', 5_050, 5_000));
  assert.ok(!seen.firstUse('a', 5_050, 6_000), 'time + window: still acceptable, still refused');
  assert.ok(!seen.firstUse('a', 5_050, 6_099));
  assert.ok(seen.firstUse('b', 7_000, 7_100));
  assert.equal(seen.size(), 1, 'bucket 5000-5099 dropped once now - window passed its end');
});

test('peer proof with a body: bound to its digest; another body or digest is refused', () => {
  const now = 1_800_000_000_000;
  const body = Buffer.from('{"id":"a:1"}');
  const fields: HeaderMap = { host: '127.0.0.1:9001', 'content-type': 'application/json' };
  const proof = peerProof('s3cret', 'node-a', 'node-b', 'POST', '/purge', now, fields, body);
  const headers: HeaderMap = { ...fields, ...proof, 'content-length': String(body.length) };
  assert.deepEqual(checkPeer('s3cret', 'node-b', 'POST', '/purge', headers, now, new SeenProofs(MAX_SKEW_MS)), { peer: 'node-a' });
  assert.equal(headers['content-length'], String(body.length), 'framing kept');
  assert.ok(bodyMatches(headers, body));
  assert.ok(!bodyMatches(headers, Buffer.from('{"all":true}')), 'a captured proof does not carry another body');
  const swapped: HeaderMap = { ...fields, ...proof, 'strata-peer-body': peerProof('s3cret', 'node-a', 'node-b', 'POST', '/purge', now, fields, 'x')['strata-peer-body']! };
  assert.deepEqual(checkPeer('s3cret', 'node-b', 'POST', '/purge', swapped, now, new SeenProofs(MAX_SKEW_MS)), { peer: undefined, forged: true, why: 'invalid' }, 'the digest is part of the MAC');
});

test('wire purge: strict shape', () => {
  const ok = { id: 'a:1', from: 'a', selector: { primaryKeys: [], paths: ['/x'], urlPrefixes: [], pathPrefixes: [], tags: [], all: false }, softAtMs: 5 };
  assert.deepEqual(parseWirePurge(JSON.stringify(ok)), ok);
  assert.match(String(parseWirePurge('{')), /^not JSON/);
  assert.equal(parseWirePurge(JSON.stringify({ ...ok, selector: { ...ok.selector, paths: [1] } })), 'selector.paths must be a list of strings');
  assert.equal(parseWirePurge(JSON.stringify({ ...ok, selector: { ...ok.selector, all: 'yes' } })), 'selector.all must be true or false');
});

test("a peer's report of its failed origin fetch is taken only when signed for the request sent, and only for origin failures", () => {
  const mine = 'sig-of-the-request-sent';
  const report = (code: string, sig: string): HeaderMap => ({ [PEER_ERROR]: code, [PEER_ERROR_SIG]: sig });
  assert.equal(peerErrorOf('s', mine, report('ORIGIN_UNREACHABLE', peerErrorSignature('s', mine, 'ORIGIN_UNREACHABLE'))), 'ORIGIN_UNREACHABLE');
  assert.equal(peerErrorOf('s', mine, report('ORIGIN_TIMEOUT', peerErrorSignature('s', mine, 'ORIGIN_TIMEOUT'))), 'ORIGIN_TIMEOUT');
  // Another request's report, another secret, another code under the signature, or no signature (an origin's fields).
  assert.equal(peerErrorOf('s', mine, report('ORIGIN_UNREACHABLE', peerErrorSignature('s', 'another', 'ORIGIN_UNREACHABLE'))), undefined);
  assert.equal(peerErrorOf('s', mine, report('ORIGIN_UNREACHABLE', peerErrorSignature('t', mine, 'ORIGIN_UNREACHABLE'))), undefined);
  assert.equal(peerErrorOf('s', mine, report('ORIGIN_TIMEOUT', peerErrorSignature('s', mine, 'ORIGIN_UNREACHABLE'))), undefined);
  assert.equal(peerErrorOf('s', mine, { [PEER_ERROR]: 'ORIGIN_UNREACHABLE' }), undefined);
  // Not an origin failure: never reported as one.
  assert.equal(peerErrorOf('s', mine, report('INTERNAL', peerErrorSignature('s', mine, 'INTERNAL'))), undefined);
});

test("a peer's answer's Cache-Status and Via are cut after this node's own last member", () => {
  const h: HeaderMap = {
    'cache-status': 'origin-cache; hit, node-a; fwd=uri-miss; stored, "n,b"; hit, node-a; hit, node-b; fwd=stale; detail=stale-if-error',
    via: '1.1 origin-cache, 1.1 node-a, 1.1 node-b (Strata, v1), 1.1 node-a, 1.1 node-b',
  };
  cutAtSelf(h, 'node-a', 'node-a');
  assert.equal(h['cache-status'], 'node-b; fwd=stale; detail=stale-if-error');
  assert.equal(h['via'], '1.1 node-b');
  // Never through this node: kept whole (a quoted name holding a comma included).
  const other: HeaderMap = { 'cache-status': '"n,b"; hit, node-b; hit', via: '1.1 node-b' };
  cutAtSelf(other, 'node-a', 'node-a');
  assert.deepEqual(other, { 'cache-status': '"n,b"; hit, node-b; hit', via: '1.1 node-b' });
  // This node last: nothing after it, the fields go.
  const mine: HeaderMap = { 'cache-status': 'node-b; hit, node-a; hit', via: '1.1 node-a' };
  cutAtSelf(mine, 'node-a', 'node-a');
  assert.deepEqual(mine, {});
});
