import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { ephemeralRange, reserveLinkPorts } from '../../src/workers/link-ports.js';

function listen(port: number): Promise<Server> {
  const s = createServer();
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

test('worker link ports are drawn below the ephemeral range, distinct, and bindable', async () => {
  const links = await reserveLinkPorts(4, { ephemeral: [32768, 60999] });
  const ports = links.flatMap((l) => [l.proxyPort, l.adminPort]);
  assert.equal(new Set(ports).size, 8);
  for (const p of ports) assert.ok(p >= 10_000 && p < 32768, `port ${p} below the ephemeral range`);
  // Each is free now: the workers will bind them.
  const servers = await Promise.all(ports.map(listen));
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

test('a port already taken is passed over for the next one drawn', async () => {
  // Held by someone else: the first draw lands on it.
  const held = await listen(0);
  const taken = (held.address() as { port: number }).port;
  try {
    const lo = 10_000;
    // Mid-port fractions: the draw lands on exactly that port, float rounding aside.
    const draws = [taken, 23_456, 23_457].map((p) => (p - lo + 0.5) / (taken + 5_000 - lo));
    let i = 0;
    const links = await reserveLinkPorts(1, { ephemeral: [taken + 5_000, 60999], random: () => draws[Math.min(i++, draws.length - 1)]! });
    assert.notEqual(links[0]!.proxyPort, taken);
    assert.notEqual(links[0]!.adminPort, taken);
    assert.notEqual(links[0]!.proxyPort, links[0]!.adminPort);
  } finally {
    await new Promise((r) => held.close(r));
  }
});

test('no usable range below the ephemeral one: ports from port 0, still distinct', async () => {
  const links = await reserveLinkPorts(3, { ephemeral: [10_500, 60999] });
  assert.equal(new Set(links.flatMap((l) => [l.proxyPort, l.adminPort])).size, 6);
  const none = await reserveLinkPorts(2, { ephemeral: undefined });
  assert.equal(new Set(none.flatMap((l) => [l.proxyPort, l.adminPort])).size, 4);
});

test("the ephemeral range is read from the kernel's file, undefined when absent or malformed", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-range-'));
  try {
    await writeFile(join(dir, 'ok'), '32768\t60999\n');
    await writeFile(join(dir, 'bad'), 'x y\n');
    assert.deepEqual(await ephemeralRange(join(dir, 'ok')), [32768, 60999]);
    assert.equal(await ephemeralRange(join(dir, 'bad')), undefined);
    assert.equal(await ephemeralRange(join(dir, 'missing')), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
