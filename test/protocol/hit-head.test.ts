// The exact head of answers from a stored entry, as bytes on the wire: fields,
// their order and values (Age and Cache-Status per answer, on the fake clock).
// The hit path reuses one field list per stored entry and writes the per-answer
// values into it (deliver/respond.ts): one answer's values must never show in
// another's, whatever the mix of entries, methods and ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixed, type Harness } from '../fixtures/harness.js';
import { rawExchange } from './raw.js';

const T = { timeout: 20_000 };
/** The origin's Date: a little ahead of the fake clock, so a stored answer's age starts at 0 exactly. */
let DATE = '';

/** The head of each answer on one keep-alive connection, as text (status line and field lines). */
async function heads(h: Harness, requests: string[], headOnly = false): Promise<{ heads: string[]; bodies: string[] }> {
  const port = h.node.proxyAddress().port;
  const payload = requests.join('');
  const r = await rawExchange(port, payload, { responses: requests.length, headOnly });
  const text = r.raw.toString('latin1');
  const out: string[] = [];
  let pos = 0;
  for (const res of r.responses) {
    const end = text.indexOf('\r\n\r\n', pos);
    out.push(text.slice(pos, end));
    pos = end + 4 + res.body.length;
  }
  return { heads: out, bodies: r.responses.map((x) => x.text) };
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: site.example\r\n${extra}\r\n`;
const head = (path: string) => `HEAD ${path} HTTP/1.1\r\nHost: site.example\r\n\r\n`;

function hitHead(opts: { length: number; age: number; ttl: number; type?: string; status?: string }): string {
  return [
    `HTTP/1.1 ${opts.status ?? '200 OK'}`,
    `date: ${DATE}`,
    `content-type: ${opts.type ?? 'application/octet-stream'}`,
    'cache-control: max-age=60',
    'via: 1.1 test-node',
    'accept-ranges: bytes',
    `age: ${opts.age}`,
    `cache-status: test-node; hit; ttl=${opts.ttl}`,
    `content-length: ${opts.length}`,
    'Connection: keep-alive',
    'Keep-Alive: timeout=5',
  ].join('\r\n');
}

test('a hit answers with the stored fields, Via, Accept-Ranges, Age, Cache-Status and Content-Length, in that order', T, async () => {
  const h = await startHarness((req, res) => {
    const body = req.url === '/b' ? 'bee body, longer' : 'aaaa';
    fixed(body, { 'content-type': req.url === '/b' ? 'image/png' : 'application/octet-stream', 'cache-control': 'max-age=60', date: DATE })(req, res, Buffer.alloc(0));
  });
  DATE = new Date(h.clock.now() + 2_000).toUTCString();
  try {
    await heads(h, [get('/a'), get('/b')]);
    await h.stored(2);
    const first = await heads(h, [get('/a'), get('/b'), get('/a')]);
    assert.deepEqual(first.heads, [
      hitHead({ length: 4, age: 0, ttl: 60 }),
      hitHead({ length: 16, age: 0, ttl: 60, type: 'image/png' }),
      hitHead({ length: 4, age: 0, ttl: 60 }),
    ]);
    assert.deepEqual(first.bodies, ['aaaa', 'bee body, longer', 'aaaa']);

    // Later answers carry their own Age and ttl; a range and a HEAD in between leave the whole-body answers alone.
    h.clock.advance(7_000);
    const later = await heads(h, [get('/b'), get('/a', 'Range: bytes=1-2\r\n'), get('/a')]);
    assert.equal(later.heads[0], hitHead({ length: 16, age: 7, ttl: 53, type: 'image/png' }));
    assert.equal(
      later.heads[1],
      [
        'HTTP/1.1 206 Partial Content',
        `date: ${DATE}`,
        'content-type: application/octet-stream',
        'cache-control: max-age=60',
        'via: 1.1 test-node',
        'accept-ranges: bytes',
        'age: 7',
        'cache-status: test-node; hit; ttl=53',
        'content-range: bytes 1-2/4',
        'content-length: 2',
        'Connection: keep-alive',
        'Keep-Alive: timeout=5',
      ].join('\r\n'),
    );
    assert.equal(later.heads[2], hitHead({ length: 4, age: 7, ttl: 53 }));
    assert.deepEqual(later.bodies, ['bee body, longer', 'aa', 'aaaa']);

    h.clock.advance(2_000);
    const heads2 = await heads(h, [head('/a')], true);
    assert.equal(heads2.heads[0], hitHead({ length: 4, age: 9, ttl: 51 }));
  } finally {
    await h.close();
  }
});

test('a stored 204 is answered without Content-Length', T, async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(204, { 'cache-control': 'max-age=60', date: DATE });
    res.end();
  });
  DATE = new Date(h.clock.now() + 2_000).toUTCString();
  try {
    await heads(h, [get('/none')]);
    await h.stored(1);
    const r = await heads(h, [get('/none'), get('/none')]);
    const expected = ['HTTP/1.1 204 No Content', `date: ${DATE}`, 'cache-control: max-age=60', 'via: 1.1 test-node', 'age: 0', 'cache-status: test-node; hit; ttl=60', 'Connection: keep-alive', 'Keep-Alive: timeout=5'].join('\r\n');
    assert.deepEqual(r.heads, [expected, expected]);
  } finally {
    await h.close();
  }
});
