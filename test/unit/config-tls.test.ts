// The tls settings: certificate pairs from --tls-cert/--tls-key (paired in order),
// from STRATA_TLS_CERT/STRATA_TLS_KEY lists and from YAML; mismatched or malformed
// pairs refused in one line; the redirect listener's off value; config/tls.yaml loads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { config, files, ORIGIN, rejection, repoFile } from '../fixtures/config-load.js';

test('--tls-cert/--tls-key pairs, in order, repeatable', () => {
  const c = config({ argv: ['--origin', ORIGIN, '--tls-cert', 'a.crt', '--tls-key', 'a.key', '--tls-cert=b.crt', '--tls-key=b.key'] });
  assert.deepEqual(c.tls.certificates, [
    { cert: 'a.crt', key: 'a.key' },
    { cert: 'b.crt', key: 'b.key' },
  ]);
});

test('STRATA_TLS_CERT / STRATA_TLS_KEY: comma-separated lists paired in order; flags win', () => {
  const env = { STRATA_TLS_CERT: 'a.crt, b.crt', STRATA_TLS_KEY: 'a.key,b.key' };
  assert.deepEqual(config({ argv: ['--origin', ORIGIN], env }).tls.certificates, [
    { cert: 'a.crt', key: 'a.key' },
    { cert: 'b.crt', key: 'b.key' },
  ]);
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--tls-cert', 'f.crt', '--tls-key', 'f.key'], env }).tls.certificates, [{ cert: 'f.crt', key: 'f.key' }]);
});

test('a certificate without its key (or the reverse) is refused in one line', () => {
  assert.equal(
    rejection({ argv: ['--origin', ORIGIN, '--tls-cert', 'a.crt', '--tls-key', 'a.key', '--tls-cert', 'b.crt'] }),
    '--tls-key: given 1 time(s) for 2 --tls-cert (expected --tls-cert and --tls-key in pairs, in the same order)',
  );
  assert.match(rejection({ argv: ['--origin', ORIGIN], env: { STRATA_TLS_KEY: 'a.key' } }), /^STRATA_TLS_KEY: given 1 time\(s\) for 0 STRATA_TLS_CERT/);
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--tls-cert'] }), /^--tls-cert: missing value \(expected FILE\)$/);
});

test('YAML: a list of { cert, key }; other shapes refused naming the place', () => {
  const load = (yaml: string) => ({ argv: ['--origin', ORIGIN, '--config', 'x.yaml'], readFile: files({ 'x.yaml': yaml }) });
  assert.deepEqual(config(load('tls:\n  certificates:\n    - cert: a.crt\n      key: a.key\n')).tls.certificates, [{ cert: 'a.crt', key: 'a.key' }]);
  assert.match(rejection(load('tls:\n  certificates:\n    - cert: a.crt\n')), /^config file x\.yaml: tls\.certificates\[0\]\.key: an empty value is not a key file \(expected a non-empty file path\)$/);
  assert.match(rejection(load('tls:\n  certificates: a.crt\n')), /^config file x\.yaml: tls\.certificates: "a\.crt" is not a list of certificate pairs \(expected /);
  assert.match(rejection(load('tls:\n  certificates:\n    - cert: a\n      key: b\n      pass: c\n')), /tls\.certificates\[0\]: unknown key "pass" \(expected cert, key\)$/);
});

test('--redirect-listen: an address, or empty for off; only with TLS, on a port of its own', () => {
  const tlsArgs = ['--origin', ORIGIN, '--tls-cert', 'a.crt', '--tls-key', 'a.key'];
  assert.deepEqual(config({ argv: [...tlsArgs, '--redirect-listen', ':80'] }).tls.redirectListen, { host: '0.0.0.0', port: 80 });
  assert.equal(
    rejection({ argv: ['--origin', ORIGIN, '--redirect-listen', ':80'] }),
    'tls.redirectListen: "0.0.0.0:80" is set but TLS is off (expected tls.certificates, --tls-cert/--tls-key, as well)',
  );
  assert.match(rejection({ argv: [...tlsArgs, '--listen', ':8443', '--redirect-listen', '127.0.0.1:8443'] }), /^tls\.redirectListen: "127\.0\.0\.1:8443" overlaps listen "0\.0\.0\.0:8443"/);
  assert.equal(config({ argv: ['--origin', ORIGIN] }).tls.redirectListen, null);
  assert.equal(config({ argv: ['--origin', ORIGIN, '--config', 'x.yaml'], readFile: files({ 'x.yaml': 'tls:\n  redirectListen: ""\n' }) }).tls.redirectListen, null);
});

test('config/tls.yaml loads', () => {
  const c = config({ argv: ['--config', 'config/tls.yaml'], readFile: files({ 'config/tls.yaml': repoFile('config/tls.yaml') }) });
  assert.equal(c.tls.certificates.length, 2);
  assert.deepEqual(c.tls.redirectListen, { host: '0.0.0.0', port: 80 });
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 443 });
});
