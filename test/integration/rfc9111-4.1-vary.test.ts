// RFC 9111 §4.1 — Vary: several variants of one URL coexist and are selected correctly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from '../fixtures/harness.js';

test('variants by Accept-Language coexist; equivalent requests (case, white space) select the same one, another order of the same languages does not', async () => {
  const h = await startHarness((req, res) => {
    const lang = String(req.headers['accept-language'] ?? 'none');
    res.writeHead(200, { vary: 'Accept-Language', 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(lang) });
    res.end(lang);
  });
  try {
    const en = await h.get('/v', { 'accept-language': 'en-US, fr' });
    assert.match(en.headers['cache-status']!, /fwd=uri-miss/);
    const de = await h.get('/v', { 'accept-language': 'de' });
    assert.match(de.headers['cache-status']!, /fwd=vary-miss/);
    assert.equal(de.text, 'de');
    const enAgain = await h.get('/v', { 'accept-language': 'EN-us,fr' });
    assert.match(enAgain.headers['cache-status']!, /; hit/);
    assert.equal(enAgain.text, 'en-US, fr');
    const deAgain = await h.get('/v', { 'accept-language': ' de ' });
    assert.equal(deAgain.text, 'de');
    assert.match(deAgain.headers['cache-status']!, /; hit/);
    const none = await h.get('/v');
    assert.match(none.headers['cache-status']!, /fwd=vary-miss/);
    assert.equal(none.text, 'none');
    // The same languages in another order: equal weights, a tie the origin may break by order.
    const fr = await h.get('/v', { 'accept-language': 'fr, en-US' });
    assert.match(fr.headers['cache-status']!, /fwd=vary-miss/);
    assert.equal(fr.text, 'fr, en-US');
    assert.equal(h.origin.count('/v'), 4);
  } finally {
    await h.close();
  }
});

test('Vary on several fields; an unkeyed header never changes the stored body', async () => {
  const h = await startHarness((req, res) => {
    const body = `${req.headers['accept-encoding'] ?? '-'}|${req.headers['x-device'] ?? '-'}|${req.headers['x-unkeyed'] ?? '-'}`;
    res.writeHead(200, { vary: 'accept-encoding, X-Device', 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  try {
    const a = await h.get('/m', { 'accept-encoding': 'gzip, br', 'x-device': 'mobile', 'x-unkeyed': 'A' });
    const b = await h.get('/m', { 'accept-encoding': 'br,gzip', 'x-device': 'mobile', 'x-unkeyed': 'B' });
    assert.equal(b.text, a.text);
    assert.match(b.headers['cache-status']!, /; hit/);
    const c = await h.get('/m', { 'accept-encoding': 'gzip, br', 'x-device': 'desktop' });
    assert.match(c.headers['cache-status']!, /fwd=vary-miss/);
    assert.equal(h.origin.count('/m'), 2);
  } finally {
    await h.close();
  }
});

test('variants survive a restart and are still selected correctly', async () => {
  const h = await startHarness((req, res) => {
    const lang = String(req.headers['accept-language'] ?? 'none');
    res.writeHead(200, { vary: 'accept-language', 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(lang) });
    res.end(lang);
  });
  try {
    // A fixed Host: the node's port changes across the restart and Host is part of the key.
    const host = 'site.example';
    await h.get('/rv', { host, 'accept-language': 'en' });
    await h.get('/rv', { host, 'accept-language': 'fr' });
    await h.stored(2);
    await h.restart();
    const fr = await h.get('/rv', { host, 'accept-language': 'fr' });
    const en = await h.get('/rv', { host, 'accept-language': 'en' });
    assert.equal(fr.text, 'fr');
    assert.equal(en.text, 'en');
    assert.match(fr.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/rv'), 2);
  } finally {
    await h.close();
  }
});

test('a 304 that now varies on other fields does not refresh the entry under its old selection: a request with another value of the new field is not served it (RFC 9111 §4.1, §4.3.4)', async () => {
  let vary = 'X-Foo';
  const h = await startHarness((req, res) => {
    const body = `bar=${req.headers['x-bar'] ?? '-'}`;
    const fields = { vary, 'cache-control': vary === 'X-Foo' ? 'max-age=1' : 'max-age=100', etag: '"v1"' };
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, fields);
      res.end();
      return;
    }
    res.writeHead(200, { ...fields, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  try {
    await h.get('/vary-304', { 'x-foo': '1', 'x-bar': '1' });
    h.clock.advance(2_000);
    vary = 'X-Bar';
    const validated = await h.get('/vary-304', { 'x-foo': '1', 'x-bar': '1' });
    assert.match(validated.headers['cache-status']!, /fwd-status=304/);
    assert.equal(validated.text, 'bar=1', 'the client whose request was validated gets the body it validated');
    const other = await h.get('/vary-304', { 'x-foo': '1', 'x-bar': '2' });
    assert.equal(other.text, 'bar=2', 'a response that varies on X-Bar is never served to another X-Bar');
    assert.doesNotMatch(other.headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});
