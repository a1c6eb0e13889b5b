// A disk index line that is valid JSON but whose metadata has the wrong shape (what
// a foreign or hand-edited line may hold) is a record that cannot be read: a miss,
// answered from the origin and counted, never a crash of the client's connection.
// Compact lines (metadata parsed on a hit) and lines parsed whole at load ("x":1) both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchReply, startHarness } from '../fixtures/harness.js';

/** Each damage made to one URL's index line, and the path it is made to. */
const DAMAGES: { path: string; damage: (line: string) => string }[] = [
  { path: '/null-headers', damage: (l) => l.replace(/"headers":\{[^}]*\}/, '"headers":null') },
  { path: '/string-headers', damage: (l) => l.replace(/"headers":\{[^}]*\}/, '"headers":"x"') },
  { path: '/number-value', damage: (l) => l.replace(/"headers":\{[^}]*\}/, '"headers":{"etag":7}') },
  { path: '/no-status', damage: (l) => l.replace(/"status":\d+,/, '') },
  { path: '/negative-size', damage: (l) => l.replace(/"s":\d+/, '"s":-5') },
  // Parsed whole at load (the flag a rich record's line carries): skipped there.
  { path: '/whole-null-headers', damage: (l) => l.replace(',"m":', ',"x":1,"m":').replace(/"headers":\{[^}]*\}/, '"headers":null') },
  { path: '/whole-no-status', damage: (l) => l.replace(',"m":', ',"x":1,"m":').replace(/"status":\d+,/, '"status":"200",') },
];

test('index lines whose metadata has the wrong shape are misses answered from the origin, counted; the node keeps serving', async () => {
  let fetched = 0;
  const h = await startHarness(
    (req, res) => {
      fetched++;
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '2', etag: '"e"' });
      res.end('ok');
    },
    // Small bodies land in segments (compact lines); after the restart memory is empty, so a hit reads the line.
    { logLevel: 'info' },
  );
  try {
    for (const { path } of DAMAGES) assert.equal((await h.get(path)).status, 200);
    await h.stored(DAMAGES.length);
    // Keys carry the Host: the restarted node listens on another port.
    const host = { host: new URL(h.base).host };
    await h.node.stop();
    const index = join(h.cacheDir, 'index-v2.log');
    const lines = (await readFile(index, 'utf8')).split('\n');
    for (const { path, damage } of DAMAGES) {
      const at = lines.findIndex((l) => l.includes(`${path}"`));
      assert.ok(at >= 0, `${path} has its index line`);
      const damaged = damage(lines[at]!);
      assert.notEqual(damaged, lines[at], `${path}: the damage applies`);
      JSON.parse(damaged);
      lines[at] = damaged;
    }
    await writeFile(index, lines.join('\n'));
    await h.restart();
    const before = fetched;
    for (const { path } of DAMAGES) {
      const r = await h.get(path, host);
      assert.equal(r.status, 200, `${path}: answered`);
      assert.equal(r.text, 'ok', `${path}: whole`);
    }
    assert.equal(fetched - before, DAMAGES.length, 'each damaged record a miss, answered from the origin');
    assert.equal(h.logs.filter((l) => l.msg === 'request failed').length, 0, 'no request failed');
    // Counted: the lines parsed at load skipped, the others' reads failed.
    const [skipped] = await h.logged((l) => l.msg === 'disk tier: unreadable index lines ignored');
    assert.equal(skipped!.skipped, 3, 'the negative size and the two whole lines skipped at load');
    const stats = JSON.parse((await fetchReply(h.admin + '/stats')).text) as { tiers: { disk: { ioErrors: number } } };
    assert.equal(stats.tiers.disk.ioErrors, 4, 'the compact lines counted as unreadable when read');
    // The node keeps serving, and the origin's answers were stored over the damaged records.
    await h.stored(DAMAGES.length);
    const again = await h.get('/null-headers', host);
    assert.equal(again.status, 200);
    assert.equal(again.text, 'ok');
  } finally {
    await h.close();
  }
});
