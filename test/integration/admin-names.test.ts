// Site and route names are the operator's: `constructor`, `toString`, `valueOf`
// are valid names (a letter or digit, then letters, digits, -._) and must be answered
// like any other by the admin API, not looked up on Object.prototype (GET /routes
// answered 500 for a site named `constructor`). `__proto__` is no valid name; asked
// for in a path it is an unknown route, not Object.prototype's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { named, startSites } from '../fixtures/sites.js';
import { fetchReply } from '../fixtures/harness.js';

const NAMES = ['constructor', 'toString', 'valueOf'];

test('sites and routes named constructor, toString and valueOf: served, listed by GET /routes, their weights changed', async () => {
  const h = await startSites({ a: named('a', 'no-store'), b: named('b', 'no-store') }, (u) =>
    Object.fromEntries(NAMES.map((n) => [n, { hosts: [`${n.toLowerCase()}.example`], routes: Object.fromEntries(NAMES.map((r, i) => [r, { path: `/${i}/`, upstream: u['a'], canary: { upstream: u['b'], percent: 0 } }])) }])),
    { overrides: { admin: { token: 't' } } as never },
  );
  try {
    assert.equal((await h.get('/1/x', { host: 'constructor.example' })).text, 'a /1/x');
    const reply = await fetchReply(h.admin + '/routes');
    assert.equal(reply.status, 200, reply.text);
    const routes = JSON.parse(reply.text) as { sites: Record<string, { routes: Record<string, { path: string; canary: { percent: number } }> }> };
    assert.deepEqual(Object.keys(routes.sites).sort(), [...NAMES].sort());
    for (const s of NAMES) {
      assert.ok(Object.hasOwn(routes.sites, s), s);
      assert.deepEqual(Object.keys(routes.sites[s]!.routes).sort(), [...NAMES].sort(), `routes of ${s}`);
    }
    for (const [site, route] of [['valueOf', 'toString'], ['constructor', 'valueOf'], ['toString', 'constructor']] as const) {
      const set = await fetchReply(`${h.admin}/routes/${site}/${route}/weights`, { authorization: 'Bearer t', 'content-type': 'application/json' }, 'POST', JSON.stringify({ canary: 100 }));
      assert.equal(set.status, 200, set.text);
    }
    const after = JSON.parse((await fetchReply(h.admin + '/routes')).text) as typeof routes;
    assert.equal(after.sites['valueOf']!.routes['toString']!.canary.percent, 100);
    assert.equal(after.sites['constructor']!.routes['toString']!.canary.percent, 0);
    assert.equal((await h.get('/1/x', { host: 'valueof.example' })).text, 'b /1/x', 'the canary takes the route named toString of the site named valueOf');
    const missing = await fetchReply(`${h.admin}/routes/__proto__/constructor/weights`, { authorization: 'Bearer t', 'content-type': 'application/json' }, 'POST', JSON.stringify({ canary: 5 }));
    assert.equal(missing.status, 404, missing.text);
    const stats = await fetchReply(h.admin + '/stats');
    assert.equal(stats.status, 200);
  } finally {
    await h.close();
  }
});
