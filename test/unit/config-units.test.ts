// Unit tests for the parsers of unit-bearing values: sizes, durations and
// listen addresses (src/config/units.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseHostPort, parseSize, UnitError } from '../../src/config/units.js';

test('parseSize accepts decimal and binary units, case-insensitive', () => {
  const cases: [string | number, number][] = [
    ['1048576', 1048576],
    ['0', 0],
    ['512B', 512],
    ['512KB', 512_000],
    ['512kb', 512_000],
    ['1KiB', 1024],
    ['256MiB', 256 * 2 ** 20],
    ['256mib', 256 * 2 ** 20],
    ['2MB', 2_000_000],
    ['10GiB', 10 * 2 ** 30],
    ['1GB', 1e9],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['0.3KB', 300],
    ['1TiB', 2 ** 40],
    ['2TB', 2e12],
    [' 64 MiB ', 64 * 2 ** 20],
    [4096, 4096],
  ];
  for (const [input, bytes] of cases) assert.equal(parseSize(input), bytes, JSON.stringify(input));
});

test('parseSize rejects garbage, negatives, NaN and unknown units', () => {
  for (const input of ['', '12XB', '-1', '-1MiB', 'NaN', 'MiB', '1e3', '.5GiB', '1.5.2MB', '10 GiB extra', '1Mi', 'Infinity', '99999999999TiB', -5, 1.5, Number.NaN]) {
    assert.throws(() => parseSize(input), UnitError, JSON.stringify(input));
  }
});

test('parseDuration: units and bare milliseconds', () => {
  const cases: [string | number, number][] = [
    ['1500', 1500],
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['30S', 30_000],
    ['0', 0],
    [250, 250],
  ];
  for (const [input, ms] of cases) assert.equal(parseDuration(input), ms, JSON.stringify(input));
});

test('parseDuration rejects garbage', () => {
  for (const input of ['', 'soon', '-1s', '5 minutes', '1d', '1e3', 's', '1.2.3s', -1, 0.5]) {
    assert.throws(() => parseDuration(input), UnitError, JSON.stringify(input));
  }
});

test('parseHostPort: IPv4, bracketed IPv6, names, and bare ports', () => {
  const cases: [string | number, { host: string; port: number }][] = [
    ['0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['[::]:443', { host: '::', port: 443 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['edge-1.example.com:80', { host: 'edge-1.example.com', port: 80 }],
    [':8080', { host: '0.0.0.0', port: 8080 }],
    ['8080', { host: '0.0.0.0', port: 8080 }],
    [8080, { host: '0.0.0.0', port: 8080 }],
  ];
  for (const [input, want] of cases) assert.deepEqual(parseHostPort(input), want, JSON.stringify(input));
});

test('parseHostPort rejects bad hosts and ports', () => {
  for (const input of ['', 'localhost', '0.0.0.0:', '0.0.0.0:65536', '0.0.0.0:-1', '0.0.0.0:http', '::1:8080', '[::1]', '[::1]8080', '[nothost]:80', 'a b:80', 'http://x:80', '300.1.1.1:80', '99999']) {
    assert.throws(() => parseHostPort(input), UnitError, JSON.stringify(input));
  }
});
