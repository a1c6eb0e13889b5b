// JWT checking over real sockets: a real JWKS server with keys generated here by
// jose (no key is committed), a real origin and a real Strata node on a fake
// clock. Bearer tokens are verified before the cache; claims reach the origin as
// fields a client cannot forge; a JWKS that cannot be fetched fails closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, exportPKCS8, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { fetchReply, startHarness, type Harness } from '../fixtures/harness.js';
import { edgeRules, type DeepPartial } from '../fixtures/edge.js';
import type { EdgeConfig } from '../../src/config/types.js';
import { startReloadable } from './reload-node.js';
import { lastCharSpellings, otherEcdsaSignature, P256_ORDER } from '../fixtures/jws-spellings.js';

interface Jwks {
  url: string;
  fetches: () => number;
  close(): Promise<void>;
}

async function startJwks(keys: object[]): Promise<Jwks> {
  let n = 0;
  const server = http.createServer((_req, res) => {
    n++;
    const body = JSON.stringify({ keys });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    fetches: () => n,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const signing = await generateKeyPair('ES256', { extractable: true });
const stranger = await generateKeyPair('ES256', { extractable: true });
const publicJwk = { ...(await exportJWK(signing.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };

const ISS = 'https://login.example/';
const AUD = 'api.example';

/** A token signed now (by the node's clock), valid for an hour unless `claims` say otherwise. */
async function token(h: Harness, claims: JWTPayload = {}, opts: { key?: CryptoKey; kid?: string; alg?: string } = {}): Promise<string> {
  const now = Math.floor(h.clock.now() / 1000);
  return new SignJWT({ iss: ISS, aud: AUD, sub: 'alice', iat: now, exp: now + 3600, org: { id: 'acme' }, ...claims })
    .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid: opts.kid ?? 'k1' })
    .sign(opts.key ?? signing.privateKey);
}

const page = (req: http.IncomingMessage, res: http.ServerResponse) => {
  const body = `hello ${String(req.headers['x-user'] ?? 'nobody')}`;
  res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

async function withJwt(jwt: DeepPartial<EdgeConfig['jwt']>, body: (h: Harness, jwks: Jwks) => Promise<void>): Promise<void> {
  const jwks = await startJwks([publicJwk]);
  const h = await startHarness(page, {
    edge: edgeRules({ jwt: { jwksUrl: jwks.url, issuer: ISS, audience: [AUD], claimFields: { sub: 'x-user', 'org.id': 'x-org' }, ...jwt } }),
  });
  try {
    await body(h, jwks);
  } finally {
    await h.close();
    await jwks.close();
  }
}

test('JWT: a valid bearer token passes; its claims reach the origin as fields a client cannot forge', async () => {
  await withJwt({}, async (h, jwks) => {
    const t = await token(h);
    const r = await h.get('/hello', { authorization: `Bearer ${t}`, 'x-user': 'mallory', 'x-org': 'evil' });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'hello alice');
    const seen = h.origin.requests[0]!.headers;
    assert.equal(seen['x-user'], 'alice');
    assert.equal(seen['x-org'], 'acme', 'a dotted claim reads inside objects');
    assert.equal(seen['authorization'], `Bearer ${t}`, 'the credential itself is forwarded');
    await h.get('/hello2', { authorization: `Bearer ${await token(h, { sub: 'bob' })}` });
    assert.equal(jwks.fetches(), 1, 'the JWKS is fetched once and kept');
    // A verified token is remembered, but never past its expiry (+ the 30 s skew).
    const short = await token(h, { exp: Math.floor(h.clock.now() / 1000) + 5 });
    assert.equal((await h.get('/s1', { authorization: `Bearer ${short}` })).status, 200);
    h.clock.advance(30_000);
    assert.equal((await h.get('/s2', { authorization: `Bearer ${short}` })).status, 200, 'within the skew');
    h.clock.advance(6_000);
    const late = await h.get('/s3', { authorization: `Bearer ${short}` });
    assert.equal(late.status, 401);
    assert.match(late.headers['www-authenticate']!, /token expired/);
  });
});

test('JWT: a claim holding a lone UTF-16 surrogate reaches the origin as U+FFFD (percent-encoded), not a 500', async () => {
  await withJwt({}, async (h) => {
    // JSON allows "\ud800" alone; encodeURIComponent throws on it (URIError).
    const lone = await h.get('/lone', { authorization: `Bearer ${await token(h, { sub: 'a\ud800b', org: { id: '\udc00' } })}` });
    assert.equal(lone.status, 200);
    assert.equal(lone.text, 'hello a%EF%BF%BDb');
    assert.equal(h.origin.requests.at(-1)!.headers['x-org'], '%EF%BF%BD');
    // A pair is a character like any other.
    assert.equal((await h.get('/pair', { authorization: `Bearer ${await token(h, { sub: 'a\ud83d\ude00' })}` })).text, 'hello a%F0%9F%98%80');
    // "%" is encoded too: a claim spelling another claim's encoding does not reach the origin as that claim.
    assert.equal((await h.get('/e', { authorization: `Bearer ${await token(h, { sub: '\u00e9' })}` })).text, 'hello %C3%A9');
    assert.equal((await h.get('/pct', { authorization: `Bearer ${await token(h, { sub: '%C3%A9 100%' })}` })).text, 'hello %25C3%25A9 100%25');
  });
});

test('JWT: missing or bad tokens get 401 with a Bearer challenge (RFC 6750 §3), before the cache', async () => {
  await withJwt({ clockSkewS: 30 }, async (h) => {
    // Stored by an authorised request first: a refused one must not get these bytes.
    assert.equal((await h.get('/doc', { authorization: `Bearer ${await token(h)}` })).status, 200);
    await h.stored(1);

    const missing = await h.get('/doc');
    assert.equal(missing.status, 401);
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="strata"', 'no error code without a token (§3.1)');
    assert.match(missing.text, /^401 AUTH_REQUIRED/);

    const now = Math.floor(h.clock.now() / 1000);
    const bad: [string, string, RegExp][] = [
      ['garbage', 'not.a.jwt', /malformed token/],
      ['expired', await token(h, { exp: now - 60 }), /token expired/],
      ['wrong issuer', await token(h, { iss: 'https://other.example/' }), /iss/],
      ['wrong audience', await token(h, { aud: 'other' }), /aud/],
      ['no exp', await token(h, { exp: undefined }), /exp/],
      ['forged signature', await token(h, {}, { key: stranger.privateKey }), /signature verification failed/],
      ['unknown key id', await token(h, {}, { kid: 'k9', key: stranger.privateKey }), /no key for this token/],
      ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', exp: now + 60 })).toString('base64url')}.`, /.+/],
    ];
    for (const [what, t, why] of bad) {
      const r = await h.get('/doc', { authorization: `Bearer ${t}` });
      assert.equal(r.status, 401, what);
      assert.match(r.headers['www-authenticate']!, /^Bearer realm="strata", error="invalid_token", error_description="/, what);
      assert.match(r.headers['www-authenticate']!, why, what);
      assert.match(r.text, /^401 TOKEN_INVALID/, what);
      assert.doesNotMatch(r.text, /hello/, what);
    }
    // Expired, but within the clock skew: accepted; and from the shared cache (public).
    const late = await h.get('/doc', { authorization: `Bearer ${await token(h, { exp: now - 10 })}` });
    assert.equal(late.status, 200);
    assert.match(late.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/doc'), 1);
  });
});

test('JWT: the token may come from a cookie; a JWKS that cannot be fetched fails closed (503)', async () => {
  await withJwt({ cookie: 'session', jwksTimeoutMs: 500 }, async (h, jwks) => {
    const t = await token(h);
    const r = await h.get('/c', { cookie: `theme=dark; session=${t}` });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'hello alice');
  });
  const jwks = await startJwks([publicJwk]);
  const url = jwks.url;
  await jwks.close();
  const h = await startHarness(page, { logLevel: 'warn', edge: edgeRules({ jwt: { jwksUrl: url, jwksTimeoutMs: 500 } }) } as Parameters<typeof startHarness>[1]);
  try {
    const r = await h.get('/down', { authorization: `Bearer ${await token(h)}` });
    assert.equal(r.status, 503);
    assert.match(r.text, /^503 AUTH_UNAVAILABLE: /);
    assert.ok(!r.text.includes(url), 'the JWKS URL is logged, not sent to the client');
    await h.logged((l) => l['code'] === 'AUTH_UNAVAILABLE' && /^JWKS .* unusable/.test(String(l['msg'])));
    assert.equal(h.origin.count(), 0);
  } finally {
    await h.close();
  }
});

test('JWT: static keys from files (PEM public key, HS256 JWK); a private key file stops start-up', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-keys-'));
  try {
    const pem = join(dir, 'signing.pub.pem');
    await writeFile(pem, await exportSPKI(signing.publicKey));
    const secret = Buffer.from('an HS256 test secret of 32 bytes!');
    const hs = join(dir, 'hs.json');
    await writeFile(hs, JSON.stringify({ kty: 'oct', kid: 'hs1', k: secret.toString('base64url') }));
    const h = await startHarness(page, { edge: edgeRules({ jwt: { keyFiles: [pem, hs], claimFields: { sub: 'x-user' } } }) });
    try {
      assert.equal((await h.get('/pem', { authorization: `Bearer ${await token(h, { sub: 'pat' }, { kid: 'any' })}` })).text, 'hello pat');
      const now = Math.floor(h.clock.now() / 1000);
      const hsToken = await new SignJWT({ sub: 'sam', exp: now + 60 }).setProtectedHeader({ alg: 'HS256', kid: 'hs1' }).sign(secret);
      assert.equal((await h.get('/hs', { authorization: `Bearer ${hsToken}` })).text, 'hello sam');
      const wrong = await new SignJWT({ sub: 'sam', exp: now + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from('another secret of thirty-two byte'));
      assert.equal((await h.get('/hs', { authorization: `Bearer ${wrong}` })).status, 401);
    } finally {
      await h.close();
    }
    const priv = join(dir, 'signing.key');
    await writeFile(priv, await exportPKCS8(signing.privateKey));
    await assert.rejects(
      startHarness(page, { edge: edgeRules({ jwt: { keyFiles: [priv] } }) }),
      (err: Error & { code?: string }) => err.code === 'CONFIG_INVALID' && /edge\.jwt\.keyFiles: .*signing\.key: is a private key/.test(err.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('JWT: a reload reads the key files again; a key withdrawn from its file no longer verifies, even when no setting changed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-keys-'));
  const pem = join(dir, 'signing.pub.pem');
  await writeFile(pem, await exportSPKI(signing.publicKey));
  const r = await startReloadable([page], { edge: edgeRules({ jwt: { keyFiles: [pem], claimFields: { sub: 'x-user' } } }) });
  try {
    const now = Math.floor(r.clock.now() / 1000);
    const sign = (key: CryptoKey) => new SignJWT({ sub: 'pat', exp: now + 3600 }).setProtectedHeader({ alg: 'ES256' }).sign(key);
    const old = `Bearer ${await sign(signing.privateKey)}`;
    const rotated = `Bearer ${await sign(stranger.privateKey)}`;
    const get = async (authorization: string) => (await fetchReply(r.base + '/k', { authorization })).status;
    assert.equal(await get(old), 200);
    assert.equal(await get(rotated), 401);
    // The key rotated in its file: the old key withdrawn, nothing in the configuration changed.
    await writeFile(pem, await exportSPKI(stranger.publicKey));
    assert.equal((await r.reload()).status, 200);
    assert.equal(await get(old), 401, 'a token signed by the withdrawn key (verified and remembered before) is refused');
    assert.equal(await get(rotated), 200);
    // A key file that cannot be used refuses the reload; the keys read last stay.
    await writeFile(pem, await exportPKCS8(signing.privateKey));
    const refused = await r.reload();
    assert.equal(refused.status, 422);
    assert.match(String(refused.body.message), /signing\.pub\.pem: is a private key/);
    assert.equal(await get(rotated), 200);
  } finally {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('JWT with a rate limit by authorization: one token is one client and one remembered token, however its signature is spelled (issue 12, review)', async () => {
  const jwks = await startJwks([publicJwk]);
  const h = await startHarness(page, {
    edge: edgeRules({ jwt: { jwksUrl: jwks.url, issuer: ISS, audience: [AUD] }, rateLimit: { requestsPerS: 1, burst: 3, by: 'header', header: 'authorization' } }),
  });
  try {
    const t = await token(h);
    // 16 spellings of the last character, for each of the two signatures (r, s) and (r, n − s): 32 that verify.
    const spellings = [t, otherEcdsaSignature(t, P256_ORDER, 32), ...lastCharSpellings(t), ...lastCharSpellings(otherEcdsaSignature(t, P256_ORDER, 32))].filter((v, i, all) => all.indexOf(v) === i);
    assert.equal(spellings.length, 32);
    // The harness's clock is fake: no bucket refills. Three rounds over every spelling.
    const statuses: number[] = [];
    for (let round = 0; round < 3; round++) for (const s of spellings) statuses.push((await h.get(`/r${round}`, { authorization: `Bearer ${s}` })).status);
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200], 'the first three requests, three spellings, all verify');
    assert.deepEqual([...new Set(statuses.slice(3))], [429], "then the token's burst is spent, whatever the spelling");
    const stats = JSON.parse((await fetchReply(h.admin + '/stats')).text) as { edge: { rememberedTokens: number; rateBuckets: number } };
    assert.equal(stats.edge.rememberedTokens, 1, 'one remembered token');
    assert.equal(stats.edge.rateBuckets, 2, "the address's bucket and the token's");
  } finally {
    await h.close();
    await jwks.close();
  }
});

test('JWT: a token whose header names its alg as a number, list or object is refused 401, not a 500 (issue 12, review)', async () => {
  await withJwt({}, async (h, jwks) => {
    const now = Math.floor(h.clock.now() / 1000);
    const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    for (const alg of [1, ['ES256'], { name: 'ES256' }, true]) {
      const t = `${part({ alg, kid: 'k1' })}.${part({ iss: ISS, aud: AUD, sub: 'mallory', exp: now + 60 })}.AAAA`;
      const r = await h.get('/alg', { authorization: `Bearer ${t}` });
      assert.equal(r.status, 401, JSON.stringify(alg));
      assert.match(r.text, /^401 TOKEN_INVALID: /, JSON.stringify(alg));
      assert.match(r.headers['www-authenticate']!, /error="invalid_token"/);
    }
    assert.equal(h.origin.count(), 0);
    assert.ok(jwks.fetches() <= 1);
  });
});

test('JWT: a token cookie sent twice with different values is refused; origins disagree on which one counts (issue 12, review)', async () => {
  // Django reads the last of a repeated cookie, PHP and RFC 6265 the first: an origin trusting the edge's check
  // and reading the payload itself would take the other one.
  const lastSession = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const all = String(req.headers['cookie'] ?? '').split(';').map((p) => p.trim()).filter((p) => p.startsWith('session='));
    const payload = all.length ? (JSON.parse(Buffer.from(all.at(-1)!.slice('session='.length).split('.')[1]!, 'base64url').toString()) as { sub?: string }) : {};
    const body = `origin reads ${String(payload.sub)}`;
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const jwks = await startJwks([publicJwk]);
  const h = await startHarness(lastSession, { edge: edgeRules({ jwt: { jwksUrl: jwks.url, issuer: ISS, audience: [AUD], cookie: 'session' } }) });
  try {
    const mine = await token(h);
    const forged = await token(h, { sub: 'admin' }, { key: stranger.privateKey });
    assert.equal((await h.get('/one', { cookie: `session=${mine}` })).text, 'origin reads alice');
    assert.equal((await h.get('/same', { cookie: `session=${mine}; theme=dark; %73ession=${mine}` })).status, 200, 'the same token twice is one token');
    // PHP and Rack percent-decode cookie names and keep the first: "%73ession" is their "session".
    for (const cookie of [`session=${mine}; session=${forged}`, `session=${forged}; session=${mine}`, `%73ession=${forged}; session=${mine}`, `session=${mine}; %73%65ssion=${forged}`]) {
      const r = await h.get('/two', { cookie });
      assert.equal(r.status, 401, cookie.slice(0, 20));
      assert.match(r.text, /^401 TOKEN_INVALID: .*more than once/);
    }
    assert.equal(h.origin.count('/two'), 0);
  } finally {
    await h.close();
    await jwks.close();
  }
});

test('JWT: the token cookie beside a bearer token is checked too; an origin reading the cookie never gets a token nobody checked (issue 12, review)', async () => {
  await withJwt({ cookie: 'session' }, async (h) => {
    const alice = await token(h);
    const bob = await token(h, { sub: 'bob' });
    const forged = await token(h, { sub: 'admin' }, { key: stranger.privateKey });
    const expired = await token(h, { exp: Math.floor(h.clock.now() / 1000) - 3600 });
    assert.equal((await h.get('/b1', { authorization: `Bearer ${alice}`, cookie: `session=${alice}` })).text, 'hello alice');
    assert.equal((await h.get('/b2', { authorization: `Bearer ${alice}`, cookie: `session=${bob}` })).text, 'hello alice', 'both valid: the bearer token is the identity');
    for (const [what, cookie] of [['forged', forged], ['expired', expired], ['garbage', 'x.y.z']] as const) {
      const r = await h.get(`/b3-${what}`, { authorization: `Bearer ${alice}`, cookie: `theme=dark; session=${cookie}` });
      assert.equal(r.status, 401, what);
      assert.match(r.text, /^401 TOKEN_INVALID: bearer token refused: cookie session: /, what);
    }
    // A Bearer credential Strata cannot read as one token is no reason to take the cookie: an origin splitting
    // "Bearer <forged> x" on blanks reads the forged token.
    for (const authorization of [`Bearer ${forged} x`, `Bearer ${forged},`, 'Bearer']) {
      const r = await h.get('/b4', { authorization, cookie: `session=${alice}` });
      assert.equal(r.status, 401, authorization.slice(-12));
      assert.match(r.text, /^401 TOKEN_INVALID: bearer token refused: malformed Authorization: Bearer/);
    }
    assert.equal(h.origin.count(), 2);
  });
});
