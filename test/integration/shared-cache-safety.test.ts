// One client must not be able to change what others get, or make others wait:
// unkeyed forwarding headers, request-specific refusals, HEAD and 304 answers
// that need no body, and stored bytes that went missing on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';
import { request } from 'undici';
import { startHarness, fixed } from '../fixtures/harness.js';

test('X-Forwarded-Host / -Proto / Forwarded from a client never reach the origin (no cache poisoning)', async () => {
  const h = await startHarness((req, res) => {
    const body = `<script src="//${String(req.headers['x-forwarded-host'])}/app.js">`;
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  try {
    const host = 'site.example';
    await h.get('/xfh', { host, 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'host=evil.example' });
    const seen = h.origin.requests[0]!.headers;
    assert.equal(seen['x-forwarded-host'], host);
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['forwarded'], undefined);
    const other = await h.get('/xfh', { host });
    assert.doesNotMatch(other.text, /evil/);
    // Spellings of the Host the key folds together reach the origin as the key has them:
    // the first one's answer (stored for all of them) names the site the others asked for.
    for (const [i, spelling] of ['SITE.Example.', 'site.example:80'].entries()) {
      await h.get(`/xfh-${i}`, { host: spelling });
      assert.equal(h.origin.requests.at(-1)!.headers['x-forwarded-host'], 'site.example', spelling);
      assert.match((await h.get(`/xfh-${i}`, { host })).text, /\/\/site\.example\/app\.js/);
    }
    // A fragment in the target is refused: the key's own "#" suffixes begin there.
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(new URL(h.base).port), '127.0.0.1', () => s.end('GET /page#side=canary HTTP/1.1\r\nHost: site.example\r\n\r\n'));
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
  } finally {
    await h.close();
  }
});

test('a request-specific refusal (no-store, Authorization) does not evict the shared entry', async () => {
  const h = await startHarness((req, res) => {
    if (req.headers['if-none-match'] === '"e"') {
      res.writeHead(304, { etag: '"e"', 'cache-control': 'max-age=60' });
      res.end();
      return;
    }
    res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=60', 'content-length': '4' });
    res.end('body');
  });
  try {
    await h.get('/shared');
    const a = await h.get('/shared', { 'cache-control': 'no-cache, no-store' });
    assert.equal(a.text, 'body');
    const b = await h.get('/shared', { 'cache-control': 'no-cache', authorization: 'Bearer someone' });
    assert.equal(b.text, 'body');
    const plain = await h.get('/shared');
    assert.match(plain.headers['cache-status']!, /; hit/, 'still stored for everyone else');
  } finally {
    await h.close();
  }
});

/** An origin whose 304 to a request with Authorization carries `onAuth304` and marks itself in X-Validated. */
function authValidating(stored: Record<string, string>, onAuth304: Record<string, string>) {
  return startHarness((req, res) => {
    if (req.headers['if-none-match'] === '"e"') {
      res.writeHead(304, { etag: '"e"', 'x-validated': req.headers.authorization ? 'with-auth' : 'plain', ...(req.headers.authorization ? onAuth304 : {}) });
      res.end();
      return;
    }
    res.writeHead(200, { etag: '"e"', 'content-length': '4', ...stored });
    res.end('body');
  });
}

test('RFC 9111 §3.5: a 304 to a request with Authorization does not refresh the shared entry unless public/must-revalidate/s-maxage allow it', async () => {
  const h = await authValidating({ 'cache-control': 'max-age=60' }, { 'cache-control': 'max-age=600' });
  try {
    await h.get('/auth-304');
    const own = await h.get('/auth-304', { 'cache-control': 'no-cache', authorization: 'Bearer someone' });
    assert.equal(own.status, 200);
    assert.equal(own.text, 'body', 'the client that validated gets the body it validated');
    assert.equal(own.headers['x-validated'], 'with-auth');
    assert.match(own.headers['cache-status']!, /fwd=request; fwd-status=304; detail=authorization/);
    assert.equal(h.origin.count('/auth-304'), 2);
    const plain = await h.get('/auth-304');
    assert.match(plain.headers['cache-status']!, /; hit/, 'the shared entry is still stored');
    assert.equal(plain.headers['x-validated'], undefined, 'and was not refreshed by the authorised 304');
    assert.equal(plain.headers['cache-control'], 'max-age=60');
  } finally {
    await h.close();
  }
});

test('RFC 9111 §3.5: a 304 to a request with Authorization refreshes the shared entry when the response says public, must-revalidate or s-maxage', async () => {
  for (const [name, stored, on304] of [
    ['stored public', { 'cache-control': 'public, max-age=60' }, {}],
    ['s-maxage in the 304', { 'cache-control': 'max-age=60' }, { 'cache-control': 's-maxage=600' }],
    ['must-revalidate in the 304', { 'cache-control': 'max-age=60' }, { 'cache-control': 'max-age=600, must-revalidate' }],
  ] as const) {
    const h = await authValidating(stored, on304);
    try {
      await h.get('/auth-304-ok');
      const own = await h.get('/auth-304-ok', { 'cache-control': 'no-cache', authorization: 'Bearer someone' });
      assert.equal(own.text, 'body', name);
      assert.match(own.headers['cache-status']!, /fwd-status=304; stored/, name);
      const plain = await h.get('/auth-304-ok');
      assert.match(plain.headers['cache-status']!, /; hit/, name);
      assert.equal(plain.headers['x-validated'], 'with-auth', `${name}: the refreshed entry carries the 304's fields`);
    } finally {
      await h.close();
    }
  }
});

test('HEAD of an uncacheable endless response: headers come at once and the origin transfer stops', async () => {
  let originClosed!: () => void;
  const closed = new Promise<void>((r) => (originClosed = r));
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'private' });
    const t = setInterval(() => res.write('tick\n'), 5);
    res.on('close', () => {
      clearInterval(t);
      originClosed();
    });
  });
  try {
    const r = await h.get('/live', {}, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    await closed;
  } finally {
    await h.close();
  }
});

test('HEAD and a matching conditional on a storable miss are answered before the body is fetched whole', async () => {
  let finish: (() => void) | undefined;
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"a"', 'content-length': '10' });
    res.write('01234');
    finish = () => res.end('56789');
  });
  try {
    const head = await h.get('/slow-head', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '10');
    finish!();
    finish = undefined;
    const cond = await h.get('/slow-cond', { 'if-none-match': '"a"' });
    assert.equal(cond.status, 304);
    finish!();
    await h.stored(2);
    assert.equal((await h.get('/slow-head')).text, '0123456789');
  } finally {
    await h.close();
  }
});

test('a range read of a blob cut short on disk cuts the connection, and the entry is refetched', async () => {
  // Over 256 KiB: streamed from its file (a smaller body kept out of memory is read whole and verified first: src/store/tiered.ts).
  const big = Buffer.alloc(512 * 1024, 9);
  const h = await startHarness(fixed(big, { 'cache-control': 'max-age=600' }), { cache: { memoryMaxObjectBytes: 1024 } });
  try {
    await h.get('/cut');
    await h.stored(1);
    const shard = join(h.cacheDir, 'content-v2', 'sha256');
    const files: string[] = [];
    for (const a of await readdir(shard)) for (const b of await readdir(join(shard, a))) for (const f of await readdir(join(shard, a, b))) files.push(join(shard, a, b, f));
    assert.equal(files.length, 1);
    await truncate(files[0]!, 1000);
    const outcome = await request(h.base + '/cut', { headers: { range: 'bytes=0-99999' } })
      .then((r) => r.body.arrayBuffer())
      .then(
        (b) => `completed with ${b.byteLength} bytes`,
        (err: Error) => err,
      );
    assert.ok(outcome instanceof Error, `the connection is cut, never a clean short 206 (got: ${String(outcome)})`);
    const again = await h.get('/cut');
    assert.ok(again.body.equals(big), 'refetched whole');
    assert.match(again.headers['cache-status']!, /fwd=uri-miss/);
  } finally {
    await h.close();
  }
});

test('cache deception: a page for a Cookie request with only Last-Modified is not stored and never reaches an anonymous client', async () => {
  const h = await startHarness((req, res) => {
    const body = req.headers.cookie ? 'account of alice' : 'please log in';
    res.writeHead(200, { 'last-modified': new Date(Date.now() - 86_400_000).toUTCString(), 'content-type': 'text/css', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  try {
    const mine = await h.get('/account.php/x.css', { cookie: 'sid=alice' });
    assert.equal(mine.text, 'account of alice');
    assert.match(mine.headers['cache-status']!, /detail=cookie-heuristic/);
    const anonymous = await h.get('/account.php/x.css');
    assert.equal(anonymous.text, 'please log in');
    assert.equal(h.origin.count('/account.php/x.css'), 2);
  } finally {
    await h.close();
  }
});

test('a Cookie request whose response has explicit freshness, or varies on Cookie, is still stored', async () => {
  const h = await startHarness((req, res) => {
    const lm = new Date(Date.now() - 86_400_000).toUTCString();
    const extra: Record<string, string> = req.url === '/explicit' ? { 'cache-control': 'max-age=60' } : { vary: 'Cookie' };
    res.writeHead(200, { 'last-modified': lm, 'content-length': '2', ...extra });
    res.end('ok');
  });
  try {
    for (const path of ['/explicit', '/varies']) {
      await h.get(path, { cookie: 'sid=alice' });
      const again = await h.get(path, { cookie: 'sid=alice' });
      assert.match(again.headers['cache-status']!, /; hit/, path);
    }
  } finally {
    await h.close();
  }
});

test("cache.storeCookieHeuristic restores RFC 9111 §4.2.2: the Cookie request's page with only Last-Modified is stored", async () => {
  const h = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'last-modified': new Date(Date.now() - 86_400_000).toUTCString(), 'content-length': '6' });
      res.end('public');
    },
    { cache: { storeCookieHeuristic: true } },
  );
  try {
    const first = await h.get('/style.css', { cookie: 'sid=alice' });
    assert.doesNotMatch(first.headers['cache-status']!, /cookie-heuristic/);
    await h.stored(1);
    const again = await h.get('/style.css');
    assert.match(again.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/style.css'), 1);
  } finally {
    await h.close();
  }
});

test('override fields (X-Original-URL/-URI, X-Rewrite-URL, X-Host, X-HTTP-Method-Override, X-Forwarded-Scheme/-Port/-Server/-Prefix/-Ssl, X-Scheme, X-Forwarded-Protocol, X-Url-Scheme) and client-address claims (X-Real-IP, True-Client-IP) never reach the origin', async () => {
  const overrides: Record<string, string> = {
    'x-original-url': '/admin',
    'x-rewrite-url': '/admin',
    'x-host': 'evil.example',
    'x-http-method-override': 'DELETE',
    'x-http-method': 'DELETE',
    'x-method-override': 'DELETE',
    'x-forwarded-scheme': 'nothttp',
    'x-forwarded-port': '1337',
    'x-forwarded-server': 'evil.example',
    'x-original-uri': '/admin',
    'x-forwarded-uri': '/admin',
    'x-forwarded-prefix': '/evil',
    'x-forwarded-ssl': 'on',
    'front-end-https': 'on',
    // Scheme claims other origins obey over X-Forwarded-Proto: Tornado (xheaders) reads X-Scheme
    // first; gunicorn's secure_scheme_headers has X-Forwarded-Protocol (a value contradicting
    // X-Forwarded-Proto is its 400); WSGI middlewares read X-Url-Scheme.
    'x-scheme': 'https',
    'x-forwarded-protocol': 'ssl',
    'x-url-scheme': 'https',
    'x-real-ip': '10.0.0.1',
    'true-client-ip': '10.0.0.1',
    'x-client-ip': '10.0.0.1',
    'x-cluster-client-ip': '10.0.0.1',
  };
  const h = await startHarness((req, res) => {
    // A Tornado origin's scheme: X-Scheme, else X-Forwarded-Proto (what its absolute links are built with).
    const scheme = String(req.headers['x-scheme'] ?? req.headers['x-forwarded-proto']);
    const body = `${String(req.headers['x-original-url'] ?? '')}${String(req.headers['x-host'] ?? '')}${String(req.headers['x-forwarded-port'] ?? '')}${scheme === 'http' ? '' : scheme}`;
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  try {
    await h.get('/override', { ...overrides, 'x-kept': 'yes' });
    const seen = h.origin.requests[0]!.headers;
    for (const name of Object.keys(overrides)) assert.equal(seen[name], undefined, name);
    assert.equal(seen['x-kept'], 'yes', 'other fields still pass');
    const other = await h.get('/override');
    assert.equal(other.text, '', 'nothing a client sent was stored for everyone');
  } finally {
    await h.close();
  }
});

test('origin.droppedRequestFields replaces the list: a named field is removed, a default one then passes', async () => {
  const h = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '2' });
      res.end('ok');
    },
    { origin: { droppedRequestFields: ['x-tenant'] } },
  );
  try {
    await h.get('/dropped', { 'x-tenant': 't1', 'x-forwarded-port': '8443', 'x-kept': 'yes' });
    const seen = h.origin.requests[0]!.headers;
    assert.equal(seen['x-tenant'], undefined);
    assert.equal(seen['x-forwarded-port'], '8443');
    assert.equal(seen['x-kept'], 'yes');
  } finally {
    await h.close();
  }
});

test('fields a client names in Connection are gone for the cache as for the origin: no variant stored for what the origin never saw', async () => {
  const h = await startHarness((req, res) => {
    const lang = String(req.headers['accept-language'] ?? 'default');
    res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-length': Buffer.byteLength(lang) });
    res.end(lang);
  });
  try {
    const port = Number(new URL(h.base).port);
    // Raw bytes: a client library would refuse this Connection field.
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET /page HTTP/1.1\r\nHost: site.example\r\nAccept-Language: fr\r\nConnection: close, accept-language\r\n\r\n'));
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    assert.match(raw, /\r\n\r\ndefault$/, 'the origin did not see the field');
    const fr = await h.get('/page', { host: 'site.example', 'accept-language': 'fr' });
    assert.equal(fr.text, 'fr', 'the French variant is not the page made without the field');
    assert.match(fr.headers['cache-status']!, /fwd=(uri-miss|vary-miss)/);
  } finally {
    await h.close();
  }
});
