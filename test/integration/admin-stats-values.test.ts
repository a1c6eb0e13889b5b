// /stats answers without the admin token (the dashboard reads it), and its top missed
// keys are URLs: a reset link's token or an OAuth code in a query, a keyed cookie's
// value after "#". Their values are shown only to a bearer of the token.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchReply, fixed, withHarness } from '../fixtures/harness.js';

interface TopMiss {
  key: string;
  misses: number;
}

test('/stats top missed keys: query values left out unless the request bears the admin token', async () => {
  await withHarness(fixed('page', { 'cache-control': 'no-store' }), { admin: { token: 't' } } as never, async (h) => {
    for (let i = 0; i < 2; i++) assert.equal((await fetchReply(h.base + '/reset?token=s3cret&user=7')).status, 200);
    const top = async (headers: Record<string, string> = {}) => (JSON.parse((await fetchReply(h.admin + '/stats', headers)).text) as { topMisses: TopMiss[] }).topMisses;
    const open = await top();
    assert.deepEqual(open.map((m) => [m.key.replace(/^GET http:\/\/[^/]+/, ''), m.misses]), [['/reset?token=…&user=…', 2]]);
    assert.deepEqual(await top({ authorization: 'Bearer wrong' }), open);
    const full = await top({ authorization: 'Bearer t' });
    assert.match(full[0]!.key, /\/reset\?token=s3cret&user=7$/);
    assert.equal(full[0]!.misses, 2);
  });
});

test('/stats top missed keys: with no admin token configured, values are never shown', async () => {
  await withHarness(fixed('page', { 'cache-control': 'no-store' }), {}, async (h) => {
    await fetchReply(h.base + '/a?code=xyz');
    const s = (await fetchReply(h.admin + '/stats', { authorization: 'Bearer ' })).text;
    assert.doesNotMatch(s, /xyz/);
    assert.match(s, /\/a\?code=…/);
  });
});

test('/stats top missed keys: a bare query member (no "=": a token as the whole query) is left out like a value', async () => {
  await withHarness(fixed('page', { 'cache-control': 'no-store' }), { admin: { token: 't' } } as never, async (h) => {
    await fetchReply(h.base + '/reset?S3CRETtoken');
    await fetchReply(h.base + '/p?u=1&0THERsecret');
    const top = async (headers: Record<string, string> = {}) => (JSON.parse((await fetchReply(h.admin + '/stats', headers)).text) as { topMisses: TopMiss[] }).topMisses;
    const open = (await top()).map((m) => m.key.replace(/^GET http:\/\/[^/]+/, '')).sort();
    assert.deepEqual(open, ['/p?u=…&…', '/reset?…']);
    const full = (await top({ authorization: 'Bearer t' })).map((m) => m.key).join(' ');
    assert.match(full, /\/reset\?S3CRETtoken/);
    assert.match(full, /\/p\?u=1&0THERsecret/);
  });
});
