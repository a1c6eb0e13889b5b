// A route's key options must read the request no less than the origin does: a
// parameter or cookie the key leaves out, merges or reads differently is one a
// client can use to fill the entry other clients share. The origins here read
// as common frameworks do (Rack 2 / parse_qs: ";" separates parameters; Django:
// the last cookie of a name wins; PHP: quotes are part of the value).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import type { OriginHandler } from '../fixtures/harness.js';
import { startSites } from '../fixtures/sites.js';

/** Rack 2: the query split on "&" and ";", the last of a name wins. */
const rackQuery: OriginHandler = (req, res) => {
  const q: Record<string, string> = {};
  for (const p of new URL(req.url!, 'http://x').search.slice(1).split(/[&;]/)) {
    if (!p) continue;
    const [k = '', v = ''] = p.split('=');
    q[decodeURIComponent(k)] = decodeURIComponent(v);
  }
  const body = `callback=${q['callback'] ?? 'none'} a=${q['a'] ?? 'none'}`;
  res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=300' });
  res.end(body);
};

test('ignoreQuery and sortQuery never drop or move a parameter an origin splitting on ";" reads', async () => {
  const h = await startSites({ app: rackQuery }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        all: { path: '/', upstream: u['app'], cache: { ignoreQuery: ['utm_source'] } },
        sorted: { path: '/sorted/', upstream: u['app'], cache: { ignoreQuery: ['utm_source'], sortQuery: true } },
      },
    },
  }));
  const get = (path: string) => h.get(path, { host: 'shop.example' });
  try {
    for (const [i, attack] of ['utm_source=x;callback=alert(1)', 'utm_source=x%3Bcallback=alert(1)', 'utm_source=x%3bcallback=alert(1)'].entries()) {
      const path = `/jsonp-${i}`;
      await get(`${path}?${attack}`);
      await h.stored(i + 1);
      const victim = await get(path);
      assert.doesNotMatch(victim.text, /alert/, `${attack}: not stored under ${path}`);
      assert.match(victim.text, /callback=none/);
    }
    // Still ignored when it holds no ";".
    await get('/plain?utm_source=x');
    await h.stored(4);
    assert.match((await get('/plain')).headers['cache-status']!, /; hit/);
    // b=1;a=2 is b and a to the origin: sorted by "b" it would key `?b=1;a=2&a=1` (a=1 last) as `?a=1&b=1;a=2` (a=2 last).
    assert.equal((await get('/sorted/p?b=1;a=2&a=1')).text, 'callback=none a=1');
    await h.stored(5);
    assert.equal((await get('/sorted/p?a=1&b=1;a=2')).text, 'callback=none a=2');
    // Sorting still applies to a query without ";".
    await get('/sorted/q?b=1&a=2');
    await h.stored(7);
    assert.match((await get('/sorted/q?a=2&b=1')).headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});

/** The lang cookie as Django reads it (the last of a name wins) or as PHP does (the first, quotes kept). */
function langPage(reader: 'django' | 'php'): OriginHandler {
  return (req, res) => {
    const found: string[] = [];
    for (const c of (req.headers.cookie ?? '').split(';')) {
      const i = c.indexOf('=');
      if (i > 0 && c.slice(0, i).trim() === 'lang') found.push(reader === 'django' ? c.slice(i + 1).trim() : c.slice(i + 1));
    }
    const lang = reader === 'django' ? found.at(-1) : found[0];
    const body = `<html lang="${lang ?? 'default'}" device="${String(req.headers['x-device'] ?? 'none')}">`;
    res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=300' });
    res.end(body);
  };
}

test('keyCookies key every occurrence of a cookie, quotes kept; a repeated keyHeaders field keys as the origin receives it', async () => {
  const h = await startSites({ django: langPage('django'), php: langPage('php') }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        django: { path: '/django/', upstream: u['django'], cache: { keyCookies: ['lang'], keyHeaders: ['x-device'] } },
        php: { path: '/php/', upstream: u['php'], cache: { keyCookies: ['lang'] } },
      },
    },
  }));
  const get = (path: string, headers: Record<string, string> = {}) => h.get(path, { host: 'shop.example', ...headers });
  try {
    // Django reads fr; keyed as lang=en, every later lang=en client would get the French page.
    assert.equal((await get('/django/home', { cookie: 'lang=en; lang=fr' })).text, '<html lang="fr" device="none">');
    await h.stored(1);
    const en = await get('/django/home', { cookie: 'lang=en' });
    assert.match(en.headers['cache-status']!, /fwd=uri-miss/, 'a repeated cookie is its own entry');
    assert.equal(en.text, '<html lang="en" device="none">');
    await h.stored(2);
    assert.match((await get('/django/home', { cookie: 'lang=en; lang=fr' })).headers['cache-status']!, /; hit/, 'the same repeat shares its entry');
    // PHP keeps the quotes: lang="fr" is not lang=fr.
    assert.equal((await get('/php/home', { cookie: 'lang="fr"' })).text, '<html lang=""fr"" device="none">');
    await h.stored(3);
    assert.equal((await get('/php/home', { cookie: 'lang=fr' })).text, '<html lang="fr" device="none">');
    await h.stored(4);
    // Two X-Device fields reach the origin joined, as the key reads them: never the entry of one.
    const twice = await request(`${h.base}/django/dev`, { headers: ['host', 'shop.example', 'x-device', 'mobile', 'x-device', 'desktop'] });
    assert.equal(await twice.body.text(), '<html lang="default" device="mobile, desktop">');
    await h.stored(5);
    const once = await get('/django/dev', { 'x-device': 'mobile' });
    assert.match(once.headers['cache-status']!, /fwd=uri-miss/);
    assert.equal(once.text, '<html lang="default" device="mobile">');
  } finally {
    await h.close();
  }
});

/** A landing page that carries the campaign into its sign-up form, as marketing pages do (unescaped here). */
const campaignPage: OriginHandler = (req, res) => {
  const q = new URL(req.url!, 'http://x').searchParams;
  const body = `<form><input type="hidden" name="src" value="${q.get('utm_source') ?? 'direct'}"></form> v=${q.get('v') ?? 'none'}`;
  res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=300' });
  res.end(body);
};

test('a query parameter ignoreQuery leaves out of the key never reaches the origin on a fill: it cannot fill the entry every client shares', async () => {
  const h = await startSites({ app: campaignPage }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        all: { path: '/', upstream: u['app'], cache: { ignoreQuery: ['utm_source'] } },
        assets: { path: '/assets/', upstream: u['app'], cache: { ignoreQuery: 'all' } },
      },
    },
  }));
  const get = (path: string) => h.get(path, { host: 'shop.example' });
  try {
    const attack = `/landing?utm_source=${encodeURIComponent('"><script>alert(1)</script>')}&v=2`;
    await get(attack);
    await h.stored(1);
    assert.equal(h.pools['app']!.requests[0]!.url, '/landing?v=2', 'the origin is asked for what the key names');
    const victim = await get('/landing?v=2');
    assert.match(victim.headers['cache-status']!, /; hit/);
    assert.doesNotMatch(victim.text, /script/);
    assert.equal(victim.text, '<form><input type="hidden" name="src" value="direct"></form> v=2');
    // `all`: the path alone, for the origin as for the key.
    await get('/assets/app.js?utm_source=evil&v=9');
    await h.stored(2);
    assert.equal(h.pools['app']!.requests[1]!.url, '/assets/app.js');
    // Not stored, the query is the origin's business: a POST (a pass) is sent as the client sent it.
    await h.get('/landing?utm_source=form', { host: 'shop.example' }, 'POST', 'x');
    assert.equal(h.pools['app']!.requests[2]!.url, '/landing?utm_source=form');
  } finally {
    await h.close();
  }
});

/**
 * PHP's $_COOKIE: leading blanks dropped, then " " and "." (and a "[" never closed) read
 * as "_" in a name, so `lang.code`, `lang code` and `lang code ` are its lang_code, and
 * `lang ` is lang_; the first of a name wins.
 */
function phpCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    let name = pair.slice(0, eq).replace(/^\s+/, '');
    const open = name.indexOf('[');
    const head = open < 0 ? name : name.slice(0, open);
    name = head.replace(/[ .]/g, '_') + (open < 0 ? '' : name.indexOf(']', open) < 0 ? '_' + name.slice(open + 1) : name.slice(open));
    if (!(name in out)) out[name] = pair.slice(eq + 1);
  }
  return out;
}

const phpCurrencyPage: OriginHandler = (req, res) => {
  const c = phpCookies(req.headers.cookie);
  const body = `currency=${c['currency_code'] ?? 'USD'} lang=${c['lang'] ?? 'en'}`;
  res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=300' });
  res.end(body);
};

test('keyCookies: a cookie spelt so that PHP reads it as a keyed one (". " for "_", a blank after the name) never keys like its absence or like the plain spelling', async () => {
  const h = await startSites({ php: phpCurrencyPage }, (u) => ({
    shop: { hosts: ['shop.example'], routes: { all: { path: '/', upstream: u['php'], cache: { keyCookies: ['currency_code', 'lang'] } } } },
  }));
  const get = (path: string, cookie?: string) => h.get(path, cookie === undefined ? { host: 'shop.example' } : { host: 'shop.example', cookie });
  try {
    // PHP reads currency_code=EUR; keyed as "no currency_code", every client without the cookie would be shown euros.
    for (const [i, spelt] of ['currency.code=EUR', 'currency code=EUR', ' currency[code=EUR'].entries()) {
      const path = `/prices-${i}`;
      assert.equal((await get(path, spelt)).text, 'currency=EUR lang=en', spelt);
      await h.stored(2 * i + 1);
      const plain = await get(path);
      assert.match(plain.headers['cache-status']!, /fwd=uri-miss/, `${spelt}: not the entry of clients without the cookie`);
      assert.equal(plain.text, 'currency=USD lang=en');
      await h.stored(2 * i + 2);
    }
    // `lang =fr` is lang_ to PHP (the default page): keyed as lang=fr, every French client would get English.
    assert.equal((await get('/home', 'lang =fr')).text, 'currency=USD lang=en');
    await h.stored(7);
    const fr = await get('/home', 'lang=fr');
    assert.match(fr.headers['cache-status']!, /fwd=uri-miss/, 'a blank after the name is its own entry');
    assert.equal(fr.text, 'currency=USD lang=fr');
    await h.stored(8);
    // PHP takes the first it reads as currency_code: keyed as currency_code=USD, USD clients would be shown euros.
    assert.equal((await get('/mixed', 'currency.code=EUR; currency_code=USD')).text, 'currency=EUR lang=en');
    await h.stored(9);
    const usd = await get('/mixed', 'currency_code=USD');
    assert.match(usd.headers['cache-status']!, /fwd=uri-miss/);
    assert.equal(usd.text, 'currency=USD lang=en');
    assert.match((await get('/home', ' lang=fr')).headers['cache-status']!, /; hit/, 'leading blanks are every reader\'s: the same entry');
  } finally {
    await h.close();
  }
});
