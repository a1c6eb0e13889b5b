// Cache keys (RFC 9111 §2 primary key; RFC 9110 §4.2.3 URI normalisation of
// scheme and authority): src/cache/key.ts. Pure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isCacheableMethod, normaliseAuthority, primaryKey, urlOfKey } from '../../src/cache/key.js';

describe('isCacheableMethod', () => {
  const cases: { name: string; method: string; want: boolean }[] = [
    { name: 'RFC 9111 §2: GET responses are cacheable', method: 'GET', want: true },
    { name: 'RFC 9111 §4: HEAD is answered from a stored GET (PITFALLS 7)', method: 'HEAD', want: true },
    { name: 'RFC 9111 §2: POST is not looked up', method: 'POST', want: false },
    { name: 'RFC 9110 §9.1: method names are case-sensitive ("get" is not GET)', method: 'get', want: false },
    { name: 'RFC 9111 §2: OPTIONS is not cached', method: 'OPTIONS', want: false },
  ];
  for (const c of cases) test(c.name, () => assert.equal(isCacheableMethod(c.method), c.want));
});

describe('normaliseAuthority (RFC 9110 §4.2.3)', () => {
  const cases: { name: string; scheme: string; host: string; want: string }[] = [
    { name: '§4.2.3 host is case-insensitive', scheme: 'http', host: 'Example.COM', want: 'example.com' },
    { name: '§4.2.3 default http port removed', scheme: 'http', host: 'example.com:80', want: 'example.com' },
    { name: '§4.2.3 default https port removed', scheme: 'https', host: 'example.com:443', want: 'example.com' },
    { name: '§4.2.3 non-default port kept', scheme: 'http', host: 'example.com:8080', want: 'example.com:8080' },
    { name: '§4.2.3 port 443 is not the default for http', scheme: 'http', host: 'example.com:443', want: 'example.com:443' },
    { name: '§4.2.3 port 80 is not the default for https', scheme: 'https', host: 'example.com:80', want: 'example.com:80' },
    { name: '§4.2.3 empty port is the default', scheme: 'http', host: 'example.com:', want: 'example.com' },
    { name: 'DNS root dot removed', scheme: 'http', host: 'example.com.', want: 'example.com' },
    { name: 'DNS root dot removed after the default port', scheme: 'http', host: 'Example.com.:80', want: 'example.com' },
    { name: 'DNS root dot removed before another port', scheme: 'http', host: 'localhost.:8443', want: 'localhost:8443' },
    { name: '§4.2.3 IPv6 literal without port kept whole', scheme: 'http', host: '[::1]', want: '[::1]' },
    { name: '§4.2.3 IPv6 literal with the default port', scheme: 'http', host: '[::1]:80', want: '[::1]' },
    { name: '§4.2.3 IPv6 literal with another port', scheme: 'http', host: '[::1]:8080', want: '[::1]:8080' },
    { name: '§4.2.3 IPv6 literal is case-insensitive', scheme: 'http', host: '[FE80::A]', want: '[fe80::a]' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(normaliseAuthority(c.scheme, c.host), c.want));
});

describe('primaryKey (RFC 9111 §2)', () => {
  const cases: { name: string; scheme: string; host: string; target: string; want: string }[] = [
    { name: '§2 method class + absolute URI', scheme: 'http', host: 'example.com', target: '/a', want: 'GET http://example.com/a' },
    { name: '§2 the query is part of the key', scheme: 'http', host: 'example.com', target: '/a?b=1&c=2', want: 'GET http://example.com/a?b=1&c=2' },
    { name: '§2 the scheme is part of the key', scheme: 'https', host: 'example.com', target: '/a', want: 'GET https://example.com/a' },
    { name: '§2 equivalent authorities share a key', scheme: 'https', host: 'EXAMPLE.com:443', target: '/a', want: 'GET https://example.com/a' },
    { name: '§2 the path is case-sensitive', scheme: 'http', host: 'example.com', target: '/A', want: 'GET http://example.com/A' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(primaryKey(c.scheme, c.host, c.target), c.want));

  test('§2 different queries give different keys', () => {
    assert.notEqual(primaryKey('http', 'e', '/a?x=1'), primaryKey('http', 'e', '/a?x=2'));
  });
  test('§2 different ports give different keys', () => {
    assert.notEqual(primaryKey('http', 'e:8080', '/a'), primaryKey('http', 'e', '/a'));
  });
  test('urlOfKey recovers the absolute URL', () => {
    assert.equal(urlOfKey(primaryKey('https', 'Example.com:443', '/p?q')), 'https://example.com/p?q');
  });
});
