// Fields spelt with "_" for "-": CGI, WSGI and Rack servers read X_Forwarded_Host and
// X-Forwarded-Host as one variable (HTTP_X_FORWARDED_HOST), so a client's "_" copy of a
// field Strata removes or sets would steer the origin, and the answer would be stored
// for everyone. The origin here reads its request as wsgiref builds the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHarness } from '../fixtures/harness.js';

/** The request's fields as wsgiref's environ has them: "-" → "_", upper case, repeats joined with ",". */
function cgiEnviron(req: IncomingMessage): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = `HTTP_${req.rawHeaders[i]!.replaceAll('-', '_').toUpperCase()}`;
    const v = req.rawHeaders[i + 1]!.trim();
    env[k] = env[k] === undefined ? v : `${env[k]},${v}`;
  }
  return env;
}

/** Werkzeug's ProxyFix (x_host, x_port, x_prefix, x_proto: the last member) building a script URL. */
function wsgiApp(req: IncomingMessage, res: ServerResponse): void {
  const env = cgiEnviron(req);
  const last = (k: string) => env[k]?.split(',').at(-1)?.trim();
  const port = last('HTTP_X_FORWARDED_PORT');
  const body = JSON.stringify({
    script: `${last('HTTP_X_FORWARDED_PROTO')}://${last('HTTP_X_FORWARDED_HOST')}${port ? `:${port}` : ''}${last('HTTP_X_FORWARDED_PREFIX') ?? ''}/static/app.js`,
    url: env['HTTP_X_ORIGINAL_URL'] ?? null,
    method: env['HTTP_X_HTTP_METHOD_OVERRIDE'] ?? null,
    client: last('HTTP_X_FORWARDED_FOR'),
    names: req.rawHeaders.filter((_v, i) => i % 2 === 0),
  });
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const attack = {
  X_Forwarded_Host: 'evil.example',
  X_Forwarded_Proto: 'javascript',
  X_Forwarded_Prefix: '//evil.example',
  X_Forwarded_Port: '1337',
  X_Forwarded_For: '10.6.6.6',
  X_Original_URL: '/admin',
  X_HTTP_Method_Override: 'DELETE',
  Transfer_Encoding: 'chunked',
};

const clean = { script: 'http://site.example/static/app.js', url: null, method: null, client: '127.0.0.1' };

test('by default no field whose name has "_" reaches the origin (as nginx): a WSGI origin cannot be poisoned for the next client', async () => {
  const h = await startHarness(wsgiApp);
  try {
    const first = await h.get('/home', { host: 'site.example', ...attack, X_Custom: 'yes' });
    const seen = JSON.parse(first.text) as typeof clean & { names: string[] };
    assert.deepEqual(
      seen.names.filter((n) => n.includes('_')),
      [],
      'no "_" name reached the origin',
    );
    assert.deepEqual({ ...seen, names: undefined }, { ...clean, names: undefined });
    await h.stored(1);
    const victim = await h.get('/home', { host: 'site.example' });
    assert.match(victim.headers['cache-status']!, /; hit/);
    assert.doesNotMatch(victim.text, /evil|1337|admin|DELETE|javascript/);
  } finally {
    await h.close();
  }
});

test('origin.forwardUnderscoreFields on: other "_" names pass; the "_" spellings of fields Strata removes or sets still never do', async () => {
  const h = await startHarness(wsgiApp, { origin: { forwardUnderscoreFields: true } });
  try {
    const first = await h.get('/home', { host: 'site.example', ...attack, X_Custom: 'yes' });
    const seen = JSON.parse(first.text) as typeof clean & { names: string[] };
    assert.deepEqual(
      seen.names.filter((n) => n.includes('_')),
      ['x_custom'],
      'only the field Strata neither removes nor sets',
    );
    assert.deepEqual({ ...seen, names: undefined }, { ...clean, names: undefined });
    await h.stored(1);
    const victim = await h.get('/home', { host: 'site.example' });
    assert.doesNotMatch(victim.text, /evil|1337|admin|DELETE|javascript/);
  } finally {
    await h.close();
  }
});
