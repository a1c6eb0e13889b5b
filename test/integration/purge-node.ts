// Shared by the purge tests: the admin call, a tagged origin, warming and hit checks.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fetchReply, type Harness, type Reply } from '../fixtures/harness.js';

export const TOKEN = 's3cret-token';
export const withToken = { admin: { token: TOKEN } };
export const site = { host: 'site.example' };

export function purge(h: Harness, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Promise<Reply> {
  return fetchReply(h.admin + '/purge', { 'content-type': 'application/json', ...headers }, 'POST', typeof body === 'string' ? body : JSON.stringify(body));
}

export function json(r: Reply): Record<string, unknown> {
  assert.match(r.headers['content-type'] ?? '', /application\/json/);
  return JSON.parse(r.text) as Record<string, unknown>;
}

/** An origin whose responses are fresh for 10 minutes, carry an ETag, and are tagged by path. */
export function taggedOrigin(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url!;
  const headers: Record<string, string> = { 'cache-control': 'max-age=600', etag: `"${url}"`, 'content-type': 'text/plain' };
  if (url.startsWith('/videos/')) headers['surrogate-key'] = `video ${url.includes('2024') ? 'y2024' : 'y2023'}`;
  if (url.startsWith('/p/')) headers['cache-tag'] = `product-${url.slice(3)},catalog`;
  if (req.headers['if-none-match'] === headers['etag']) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const body = `body of ${url}`;
  res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function warm(h: Harness, paths: string[], headers: Record<string, string> = site): Promise<void> {
  const before = h.node.stats.counters.stored;
  for (const p of paths) assert.equal((await h.get(p, headers)).status, 200);
  await h.stored(before + paths.length);
  for (const p of paths) assert.match((await h.get(p, headers)).headers['cache-status']!, /; hit/, `${p} is cached`);
}

export async function isHit(h: Harness, path: string, headers: Record<string, string> = site): Promise<boolean> {
  const r = await h.get(path, headers);
  assert.equal(r.status, 200);
  assert.equal(r.text, `body of ${path}`);
  return /; hit/.test(r.headers['cache-status']!);
}
