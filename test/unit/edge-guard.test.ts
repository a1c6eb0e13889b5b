// The edge guard's pure parts: path and value patterns, address ranges (IPv4,
// IPv6, IPv4-mapped), the client a limit counts, filter rules (first match wins),
// token buckets on a fake clock, the config kinds that refuse bad rules, and the
// guard's synchronous stages and field stripping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterRules, claimFields, jwsAlgorithms } from '../../src/config/edge-kinds.js';
import { Problem } from '../../src/config/kinds.js';
import { RequestFilter } from '../../src/routing/guard/filters.js';
import { Guard, type GuardRefusal } from '../../src/routing/guard/guard.js';
import { JwtCheck, parseKeyFile } from '../../src/routing/guard/jwt.js';
import { clientOf, compilePath, compileRanges, compileValue, decodedPath, PatternError } from '../../src/http/patterns.js';
import { clientValue, RateLimiter } from '../../src/routing/guard/rate-limit.js';
import { FakeClock } from '../../src/util/clock.js';
import { edgeRules } from '../fixtures/edge.js';
import { config, files, ORIGIN, rejection, repoFile } from '../fixtures/config-load.js';
import nodeCrypto, { generateKeyPairSync } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { SignJWT } from 'jose';

test('path patterns: prefix, glob (* in a segment, ** across), regex and ~* ignoring case', () => {
  const cases: [string, string, boolean][] = [
    ['/admin/', '/admin/users', true],
    ['/admin/', '/administrator', false],
    ['/admin/', '/admin', true],
    ['/admin/', '/adm', false],
    ['/', '/', true],
    ['/a/**', '/a', true],
    ['/a/**', '/a/b/c', true],
    ['/a/**', '/ab', false],
    ['/u/*/x/**', '/u/1/x', true],
    ['/u/*/x/**', '/u/1/xy', false],
    ['/img/*.png', '/img/a.png', true],
    ['/img/*.png', '/img/sub/a.png', false],
    ['/img/**.png', '/img/sub/a.png', true],
    ['/a/?', '/a/b', true],
    ['/a/?', '/a/bc', false],
    ['~ ^/api/v[0-9]+/internal', '/api/v2/internal/x', true],
    ['~ ^/API', '/api', false],
    ['~* ^/API', '/api', true],
  ];
  for (const [pattern, path, want] of cases) assert.equal(compilePath(pattern)(path), want, `${pattern} vs ${path}`);
  assert.throws(() => compilePath('admin'), PatternError);
  assert.throws(() => compilePath('~ ([a-'), PatternError);
});

test('paths are matched decoded and without the query: an encoded letter or slash does not slip past a rule', () => {
  assert.equal(decodedPath('/%61dmin/x?y=1'), '/admin/x');
  assert.equal(decodedPath('/admin%2Fsecret'), '/admin/secret');
  assert.equal(decodedPath('/bad%zz%41'), '/bad%zzA');
  assert.equal(decodedPath('/caf%C3%A9/%FF'), '/café/\ufffd', 'a malformed escape spoils only itself: the rest reads as UTF-8');
  assert.equal(decodedPath('//admin\\x'), '/admin/x', 'backslashes and doubled slashes as origins read them');
  assert.equal(decodedPath('/account;jsessionid=1/secret;v=2'), '/account/secret', 'path parameters dropped');
  const f = new RequestFilter([{ name: 'no-admin', action: 'deny', methods: [], paths: ['/admin/'], headers: {}, addresses: [] }]);
  for (const target of ['/admin/x', '/%61dmin/x', '/admin%2Fx', '/admin/?q', '//admin/x', '/admin;p=1/x']) {
    assert.equal(f.deniedBy({ method: 'GET', target, headers: {}, clientAddress: '1.2.3.4' }), 'no-admin', target);
  }
  assert.equal(f.deniedBy({ method: 'GET', target: '/public?p=/admin/', headers: {}, clientAddress: '1.2.3.4' }), undefined);
});

test('value patterns: exact, present (*), absent (!), regex', () => {
  assert.equal(compileValue('curl/8')('curl/8'), true);
  assert.equal(compileValue('curl/8')('curl/8.1'), false);
  assert.equal(compileValue('*')(''), true);
  assert.equal(compileValue('*')(undefined), false);
  assert.equal(compileValue('!')(undefined), true);
  assert.equal(compileValue('~* bot')('Googlebot/2.1'), true);
  assert.equal(compileValue('~ bot')(undefined), false);
});

test('address ranges: IPv4, IPv6, single addresses, and IPv4-mapped IPv6 counted as IPv4', () => {
  const inRange = compileRanges(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
  assert.equal(inRange('10.20.30.40'), true);
  assert.equal(inRange('11.0.0.1'), false);
  assert.equal(inRange('::ffff:10.1.1.1'), true);
  assert.equal(inRange('2001:db8:ffff::1'), true);
  assert.equal(inRange('2001:db9::1'), false);
  assert.equal(inRange('192.0.2.7'), true);
  assert.equal(inRange('192.0.2.8'), false);
  assert.equal(inRange('not-an-address'), false);
  assert.throws(() => compileRanges(['10.0.0.0/33']), PatternError);
  assert.throws(() => compileRanges(['example.com/8']), PatternError);
});

test('a rate-limited client is its IPv4 address or its IPv6 /64', () => {
  assert.equal(clientOf('203.0.113.9'), '203.0.113.9');
  assert.equal(clientOf('::ffff:203.0.113.9'), '203.0.113.9');
  assert.equal(clientOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(clientOf('::1'), '0:0:0:0::/64');
});

test('filter rules: first match wins; allow skips later rules; a rule without conditions matches everything', () => {
  const rules = filterRules().parse([
    { name: 'office', action: 'allow', paths: ['/admin/'], addresses: ['10.0.0.0/8'] },
    { name: 'admin', action: 'deny', paths: ['/admin/'] },
    { name: 'scanners', action: 'deny', headers: { 'User-Agent': '~* (sqlmap|nikto)' } },
    { name: 'writes', action: 'deny', methods: ['put', 'DELETE'] },
  ]);
  const f = new RequestFilter(rules);
  const ask = (method: string, target: string, clientAddress: string, headers: Record<string, string> = {}) => f.deniedBy({ method, target, headers, clientAddress });
  assert.equal(ask('GET', '/admin/x', '10.1.2.3'), undefined, 'allowed by office before admin');
  assert.equal(ask('GET', '/admin/x', '8.8.8.8'), 'admin');
  assert.equal(ask('GET', '/x', '8.8.8.8', { 'user-agent': 'sqlmap/1.7' }), 'scanners');
  assert.equal(ask('PUT', '/x', '8.8.8.8'), 'writes');
  assert.equal(ask('GET', '/x', '8.8.8.8'), undefined);
  const denyRest = new RequestFilter(filterRules().parse('[{name: lan, action: allow, addresses: [192.168.0.0/16]}, {name: rest, action: deny}]'));
  assert.equal(denyRest.deniedBy({ method: 'GET', target: '/', headers: {}, clientAddress: '192.168.1.1' }), undefined);
  assert.equal(denyRest.deniedBy({ method: 'GET', target: '/', headers: {}, clientAddress: '1.1.1.1' }), 'rest');
});

test('bad filter rules stop start-up naming where they are wrong', () => {
  const where = (raw: unknown): string => {
    try {
      filterRules().parse(raw);
    } catch (err) {
      assert.ok(err instanceof Problem);
      return `${err.at}: ${err.message}`;
    }
    assert.fail('expected a Problem');
  };
  assert.match(where([{ name: 'a', action: 'block' }]), /^\[0\]\.action: "block" is not an action/);
  assert.match(where([{ name: 'a', action: 'deny', paths: ['~ ([x'] }]), /^\[0\]\.paths: .*regular expression/);
  assert.match(where([{ name: 'a', action: 'deny', addresses: ['10.0.0.0/40'] }]), /^\[0\]\.addresses: .*prefix length/);
  assert.match(where([{ name: 'a', action: 'deny', colour: 'red' }]), /^\[0\]: unknown key "colour"/);
  assert.match(where([{ name: 'a', action: 'deny' }, { name: 'a', action: 'allow' }]), /used twice/);
  assert.deepEqual(claimFields().parse('sub=X-User, org.id=x-org'), { sub: 'x-user', 'org.id': 'x-org' });
  assert.throws(() => claimFields().parse('sub=bad field'), Problem);
  assert.throws(() => jwsAlgorithms().parse('none'), Problem);
  assert.deepEqual(jwsAlgorithms().parse('RS256,EdDSA'), ['RS256', 'EdDSA']);
});

test('token bucket: a burst, then one request per 1/rate seconds, Retry-After rounded up; memory bounded by maxClients', () => {
  const clock = new FakeClock();
  const rl = new RateLimiter({ requestsPerS: 2, burst: 3, by: 'address', header: '', maxClients: 2 }, clock);
  const a = (): ReturnType<RateLimiter['takeFor']> => rl.takeFor('192.0.2.1', rl.clientKey({}), true);
  for (let i = 0; i < 3; i++) assert.deepEqual(a(), { ok: true });
  const refused = a();
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.retryAfterS, 1);
  clock.advance(499);
  assert.equal(a().ok, false, 'not yet a whole token');
  clock.advance(1);
  assert.equal(a().ok, true, 'one token after 500 ms');
  clock.advance(60_000);
  for (let i = 0; i < 3; i++) assert.equal(a().ok, true, 'refilled to the burst, not beyond');
  assert.equal(a().ok, false);
  rl.takeFor('192.0.2.2', rl.clientKey({}), true);
  rl.takeFor('192.0.2.3', rl.clientKey({}), true);
  assert.equal(rl.size, 2, 'at most maxClients buckets');

  const slow = new RateLimiter({ requestsPerS: 0.1, burst: 1, by: 'header', header: 'x-api-key', maxClients: 10 }, clock);
  assert.equal(slow.takeFor('192.0.2.1', slow.clientKey({ 'x-api-key': 'k1' }), true).ok, true);
  const r = slow.takeFor('192.0.2.9', slow.clientKey({ 'x-api-key': 'k1' }), true);
  assert.equal(!r.ok && r.retryAfterS, 10, 'the key, not the address, is the client');
  assert.equal(slow.takeFor('192.0.2.2', slow.clientKey({}), true).ok, true, 'no key: counted by address');
  assert.equal(slow.takeFor('192.0.2.2', slow.clientKey({}), true).ok, false);
});

test('token bucket by header, behind auth: a value is a client only once the auth passed it; inventing values only spends the address', () => {
  const clock = new FakeClock();
  const rl = new RateLimiter({ requestsPerS: 10, burst: 50, by: 'header', header: 'x-api-key', maxClients: 100_000 }, clock);
  // One address inventing a key per request (the auth refuses each): its own burst, then refused, whatever it invents.
  let passed = 0;
  for (let i = 0; i < 1000; i++) if (rl.takeFor('192.0.2.1', rl.clientKey({ 'x-api-key': `invented-${i}` }), false).ok) passed++;
  assert.equal(passed, 50, 'the address burst, not a burst per invented value');
  clock.advance(1000);
  passed = 0;
  for (let i = 0; i < 1000; i++) if (rl.takeFor('192.0.2.1', rl.clientKey({ 'x-api-key': `again-${i}` }), false).ok) passed++;
  assert.equal(passed, 10, 'then the address rate');
  // Many clients behind one address with keys the auth accepted: each has its own bucket.
  for (let i = 0; i < 3; i++) rl.vouch(rl.clientKey({ 'x-api-key': `k${i}` }));
  for (let i = 0; i < 3; i++) for (let n = 0; n < 49; n++) assert.equal(rl.takeFor('192.0.2.1', rl.clientKey({ 'x-api-key': `k${i}` }), false).ok, true, `key k${i}, request ${n}`);
  assert.equal(rl.takeFor('192.0.2.1', rl.clientKey({ 'x-api-key': 'k0' }), false).ok, false, 'a vouched key has its own limit');
});

test('token bucket by header, one limiter for routes with and without auth: a bucket taken as sent is not used behind auth until the auth approves its value', () => {
  const clock = new FakeClock();
  const rl = new RateLimiter({ requestsPerS: 1, burst: 5, by: 'header', header: 'x-api-key', maxClients: 100 }, clock);
  const key = rl.clientKey({ 'x-api-key': 'k' });
  assert.equal(rl.takeFor('192.0.2.1', key, true).ok, true, 'taken as sent: the address pays, the value gets a bucket (4 left)');
  // Behind auth the value is unknown: its address pays until the address is spent.
  for (let i = 0; i < 5; i++) assert.equal(rl.takeFor('192.0.2.2', key, false).ok, true);
  const refused = rl.takeFor('192.0.2.2', key, false);
  assert.equal(!refused.ok && refused.client, 'a:192.0.2.2', 'refused by its address, its as-sent bucket untouched');
  // Approved: the bucket it had is now its own behind auth too, and pays for the approved request (3 left).
  rl.vouch(key);
  for (let i = 0; i < 3; i++) assert.equal(rl.takeFor('192.0.2.3', key, false).ok, true, `approved, request ${i}`);
  const spent = rl.takeFor('192.0.2.3', key, false);
  assert.equal(!spent.ok && spent.client, key, 'refused by its own bucket');
  assert.equal(rl.takeFor('192.0.2.3', key, true).ok, false, 'one bucket for the value on both kinds of route');
});

test('token bucket by header, no auth (the field is believed as sent): a new value costs its address a token; the value is kept as a digest', () => {
  const clock = new FakeClock();
  const rl = new RateLimiter({ requestsPerS: 1, burst: 2, by: 'header', header: 'x-api-key', maxClients: 1000 }, clock);
  assert.equal(rl.takeFor('192.0.2.1', rl.clientKey({ 'x-api-key': 'r1' }), true).ok, true);
  assert.equal(rl.takeFor('192.0.2.1', rl.clientKey({ 'x-api-key': 'r2' }), true).ok, true);
  const third = rl.takeFor('192.0.2.1', rl.clientKey({ 'x-api-key': 'r3' }), true);
  assert.equal(third.ok, false, 'a third new key is refused');
  assert.equal(!third.ok && third.client, 'a:192.0.2.1', 'refused by its address');
  assert.equal(rl.takeFor('192.0.2.1', rl.clientKey({ 'x-api-key': 'r1' }), true).ok, true, 'a known key pays only its own bucket');
  const long = 'x'.repeat(16_000);
  assert.equal(rl.takeFor('198.51.100.7', rl.clientKey({ 'x-api-key': long }), true).ok, true);
  const r = new RateLimiter({ requestsPerS: 0.001, burst: 1, by: 'header', header: 'x-api-key', maxClients: 1000 }, clock);
  r.takeFor('198.51.100.8', r.clientKey({ 'x-api-key': long }), true);
  const refused = r.takeFor('198.51.100.9', r.clientKey({ 'x-api-key': long }), true);
  assert.ok(!refused.ok && refused.client.length < 64, 'a 16 KB value is kept as a short digest');
});

test('guard: filters before the rate limit; the fields it sets are listed for stripping; inactive when nothing is configured', () => {
  const clock = new FakeClock();
  const readFile = () => {
    throw new Error('no files');
  };
  const idle = new Guard(edgeRules(), { clock, readFile });
  assert.equal(idle.active, false);
  assert.ok(idle.hiddenResponseFields.has('server') && idle.hiddenResponseFields.has('x-powered-by'));
  assert.deepEqual(idle.filterResponseFields({ server: 'nginx/1.25', 'x-powered-by': 'PHP', 'content-type': 'text/html' }), { 'content-type': 'text/html' });

  const g = new Guard(edgeRules({ filters: filterRules().parse([{ name: 'no-post', action: 'deny', methods: ['POST'] }]), rateLimit: { requestsPerS: 1, burst: 1 } }), { clock, readFile });
  assert.equal(g.active, true);
  const req = { method: 'GET', target: '/', host: 'h', scheme: 'http', headers: {}, clientAddress: '198.51.100.1' };
  assert.deepEqual(g.check(req), { pass: true, add: undefined, checked: [] });
  const post = g.check({ ...req, method: 'POST' }) as GuardRefusal;
  assert.equal(post.code, 'FILTER_DENIED');
  assert.equal(post.rule, 'no-post');
  const limited = g.check(req) as GuardRefusal;
  assert.equal(limited.status, 429);
  assert.deepEqual(limited.headers, ['retry-after', '1']);

  const withAuth = new Guard(edgeRules({ forwardAuth: { url: 'http://127.0.0.1:9/verify', identityFields: ['x-auth-user'] }, jwt: { keyFiles: [], jwksUrl: 'http://127.0.0.1:9/jwks', claimFields: { sub: 'x-user' } } }), { clock, readFile });
  assert.deepEqual([...withAuth.strippedFields].sort(), ['x-auth-user', 'x-user']);
  return withAuth.close();
});

test('JWT key files: private keys are refused; PEM public keys, certificates-less JWK and JWKS load', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.equal(parseKeyFile('k.pem', pem)[0]!.kty, 'EC');
  assert.throws(() => parseKeyFile('k.key', privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), /private key/);
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1' };
  assert.equal(parseKeyFile('k.json', JSON.stringify({ keys: [jwk] }))[0]!.kid, 'k1');
  assert.throws(() => parseKeyFile('k.json', JSON.stringify(privateKey.export({ format: 'jwk' }))), /private key/);
  assert.equal(parseKeyFile('hs.json', JSON.stringify({ kty: 'oct', k: Buffer.from('0123456789abcdef0123456789abcdef').toString('base64url') }))[0]!.kty, 'oct');
  assert.throws(() => parseKeyFile('x.txt', 'hello'), /neither PEM nor JSON/);
});

test('config/edge-guard.yaml loads, and its rules compile', () => {
  const c = config({ argv: ['--config', 'edge-guard.yaml'], readFile: files({ 'edge-guard.yaml': repoFile('config/edge-guard.yaml') }) });
  assert.equal(c.edge.filters.length, 5);
  assert.equal(c.edge.forwardAuth.cacheTtlMs, 10_000);
  assert.equal(c.edge.publicAfterAuth, true);
  const f = new RequestFilter(c.edge.filters);
  assert.equal(f.deniedBy({ method: 'GET', target: '/admin/x', headers: {}, clientAddress: '2001:db8:20::5' }), undefined);
  assert.equal(f.deniedBy({ method: 'GET', target: '/admin/x', headers: {}, clientAddress: '2001:db8:21::5' }), 'admin-elsewhere');
  assert.equal(f.deniedBy({ method: 'GET', target: '/site/.git/HEAD', headers: {}, clientAddress: '192.0.2.1' }), 'secret-files');
});

test('edge settings from flags: filter rules as YAML flow text, claim fields as pairs; bad ones name the flag', () => {
  const c = config({
    argv: ['--origin', ORIGIN, '--edge-filters', '[{name: no-admin, action: deny, paths: [/admin/]}]', '--edge-jwt-claim-fields', 'sub=x-user'],
    env: { STRATA_EDGE_RATE_LIMIT_REQUESTS_PER_S: '0.5' },
  });
  assert.equal(c.edge.filters[0]!.name, 'no-admin');
  assert.deepEqual(c.edge.jwt.claimFields, { sub: 'x-user' });
  assert.equal(c.edge.rateLimit.requestsPerS, 0.5);
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--edge-filters', '[{name: x, action: deny, addresses: [10.0.0.0/99]}]'] }), /^--edge-filters\[0\]\.addresses: .*prefix length/);
});

test('the guard refuses to set framing or forwarding fields from an auth answer or a claim', () => {
  const deps = { clock: new FakeClock(), readFile: () => '' };
  assert.throws(() => new Guard(edgeRules({ forwardAuth: { url: 'http://127.0.0.1:9/', identityFields: ['content-length'] } }), deps), /edge\.forwardAuth\.identityFields: "content-length" cannot be set/);
  assert.throws(() => new Guard(edgeRules({ jwt: { jwksUrl: 'http://127.0.0.1:9/', claimFields: { sub: 'host' } } }), deps), /edge\.jwt\.claimFields: "host"/);
  assert.throws(() => new Guard(edgeRules({ rateLimit: { requestsPerS: 1, by: 'header' } }), deps), /edge\.rateLimit\.header: empty/);
});

test('rate limit by header behind JWT: only Authorization (the token) is vouched for; a field the JWT never reads is paid by the address', async () => {
  const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = a.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const clock = new FakeClock(Date.now());
  const deps = { clock, readFile: () => pem };
  const sign = (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(a.privateKey);
  const jwt = { keyFiles: ['/k.pem'] };
  const ask = async (g: Guard, headers: Record<string, string>) => (await g.check({ method: 'GET', target: '/', host: 'h', scheme: 'http', headers, clientAddress: '192.0.2.1' })).pass;
  const token = await sign('u');

  // x-client-id: the token holder invents values, each used five times; the address pays for every request.
  const byClientId = new Guard(edgeRules({ jwt, rateLimit: { requestsPerS: 1, burst: 5, by: 'header', header: 'x-client-id' } }), deps);
  let passed = 0;
  for (let i = 0; i < 200; i++) if (await ask(byClientId, { authorization: `Bearer ${token}`, 'x-client-id': `v${Math.floor(i / 5)}` })) passed++;
  assert.equal(passed, 5, 'the address burst, however many values are invented');

  // Authorization: one token is one client however it is written; another token is another client.
  const byToken = new Guard(edgeRules({ jwt, rateLimit: { requestsPerS: 1, burst: 5, by: 'header', header: 'authorization' } }), deps);
  const spellings = (t: string) => [`Bearer ${t}`, `bearer ${t}`, `BEARER  ${t}`, `Bearer \t${t}`, `bEaReR ${t}`];
  passed = 0;
  for (let i = 0; i < 40; i++) if (await ask(byToken, { authorization: spellings(token)[i % 5]! })) passed++;
  assert.equal(passed, 5, 'one bucket for every spelling of one token');
  const other = await sign('v');
  passed = 0;
  for (let i = 0; i < 40; i++) if (await ask(byToken, { authorization: `Bearer ${other}` })) passed++;
  assert.equal(passed, 5, 'another token behind the same address has its own bucket (its first request paid by the address)');

  // A token carried by the cookie vouches for nothing in Authorization.
  const cookieJwt = new Guard(edgeRules({ jwt: { ...jwt, cookie: 'session' }, rateLimit: { requestsPerS: 1, burst: 3, by: 'header', header: 'authorization' } }), deps);
  passed = 0;
  for (let i = 0; i < 50; i++) if (await ask(cookieJwt, { cookie: `session=${token}`, authorization: `Basic invented-${Math.floor(i / 3)}` })) passed++;
  assert.equal(passed, 3, 'invented Authorization values beside a cookie token: the address pays');
});

test('a rate-limit field value as a client: blanks collapsed; Authorization scheme in any case, padding optional', () => {
  assert.equal(clientValue('x-api-key', '  key   one '), 'key one');
  assert.equal(clientValue('x-api-key', 'Key'), 'Key', 'case kept outside Authorization');
  assert.equal(clientValue('authorization', 'BEARER \t abc.def=='), 'bearer abc.def');
  assert.equal(clientValue('authorization', 'Basic dXNlcjpwYXNz'), 'basic dXNlcjpwYXNz');
});

test('rate limit by header behind JWT: a request the auth passes digests its field value once (the bucket key is taken and vouched for by one digest)', async () => {
  const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = a.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const deps = { clock: new FakeClock(Date.now()), readFile: () => pem };
  const token = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(a.privateKey);
  const g = new Guard(edgeRules({ jwt: { keyFiles: ['/k.pem'] }, rateLimit: { requestsPerS: 1, burst: 5, by: 'header', header: 'authorization' } }), deps);
  // Count the SHA-256 digests fed the field's value as the limiter keys it (rate-limit.ts imports createHash from node:crypto).
  const keyed = clientValue('authorization', `Bearer ${token}`);
  let digests = 0;
  const original = nodeCrypto.createHash;
  nodeCrypto.createHash = ((algorithm: string, options?: object) => {
    const h = original(algorithm, options as never);
    const update = h.update.bind(h);
    h.update = ((data: string) => {
      if (algorithm === 'sha256' && data === keyed) digests++;
      return update(data);
    }) as typeof h.update;
    return h;
  }) as typeof nodeCrypto.createHash;
  syncBuiltinESMExports();
  try {
    const v = await g.check({ method: 'GET', target: '/', host: 'h', scheme: 'http', headers: { authorization: `Bearer ${token}` }, clientAddress: '192.0.2.1' });
    assert.equal(v.pass, true);
  } finally {
    nodeCrypto.createHash = original;
    syncBuiltinESMExports();
  }
  assert.equal(digests, 1, 'taken from and vouched for with one digest');
});

test('JWT token cookie: every spelling an origin reads as that cookie counts, and different values are no token (issue 12, review)', () => {
  const jwt = new JwtCheck(edgeRules({ jwt: { keyFiles: [], cookie: 'access_token' } }).jwt, new FakeClock(), () => '');
  const tokenOf = (cookie: string) => {
    const t = jwt.cookieToken({ cookie });
    return typeof t === 'symbol' ? 'ambiguous' : t;
  };
  assert.equal(tokenOf('access_token=a'), 'a');
  assert.equal(tokenOf('x=1; access_token=a; access_token=a'), 'a');
  assert.equal(tokenOf('access_token=a; access_token=b'), 'ambiguous');
  // PHP and Rack decode names; PHP also reads " ", "." and "[" in a name as "_".
  for (const other of ['access%5Ftoken', 'access.token', 'access token', 'access[token', '%61ccess_token']) {
    assert.equal(tokenOf(`${other}=forged; access_token=a`), 'ambiguous', other);
  }
  assert.equal(tokenOf('access_tokens=b; access_token=a'), 'a', 'another name is another cookie');
  assert.equal(tokenOf('x=1'), undefined);
});
