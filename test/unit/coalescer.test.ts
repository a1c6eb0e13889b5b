// Coalescer bookkeeping: flights listed until their work is done, hit-for-pass
// expiry on the injected clock, forget() for purges, forgetUri() for invalidations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer } from '../../src/coalesce/coalescer.js';
import { FakeClock } from '../../src/util/clock.js';

test('a flight is joined until its work is done, then unlisted', async () => {
  const c = new Coalescer<string>(new FakeClock(), 1000);
  let done!: () => void;
  const f = c.lead('k', () => ({ outcome: Promise.resolve('answer'), done: new Promise<void>((r) => (done = r)) }));
  assert.equal(c.join('k'), f);
  assert.equal(f.followers, 1);
  assert.equal(await f.outcome, 'answer');
  assert.equal(c.has('k'), true, 'still listed after the outcome: the fill is not done');
  done();
  await new Promise((r) => setImmediate(r));
  assert.equal(c.join('k'), undefined);
});

test('hit-for-pass lasts its window on the clock', () => {
  const clock = new FakeClock();
  const c = new Coalescer<string>(clock, 1000);
  c.markPass('k');
  assert.equal(c.passing('k'), true);
  clock.advance(1001);
  assert.equal(c.passing('k'), false);
  c.markPass('k');
  c.clearPass('k');
  assert.equal(c.passing('k'), false);
});

test('forget() unlists matching flights and passes; the flight itself still completes', async () => {
  const c = new Coalescer<string>(new FakeClock(), 1000);
  const f = c.lead('GET http://a/x', () => ({ outcome: Promise.resolve('x'), done: new Promise(() => {}) }));
  c.lead('GET http://a/y', () => ({ outcome: Promise.resolve('y'), done: new Promise(() => {}) }));
  c.markPass('GET http://a/x');
  assert.equal(c.forget((k) => k.endsWith('/x')), 1);
  assert.equal(c.join('GET http://a/x'), undefined);
  assert.equal(c.passing('GET http://a/x'), false);
  assert.ok(c.has('GET http://a/y'));
  assert.equal(await f.outcome, 'x');
});

test('forgetUri() unlists the URI\'s flight and those of its keyed versions ("#…"), nothing else; the key\'s pass mark goes', async () => {
  const c = new Coalescer<string>(new FakeClock(), 1000);
  const lead = (k: string) => c.lead(k, () => ({ outcome: Promise.resolve(k), done: new Promise(() => {}) }));
  const gone = ['GET http://a/x', 'GET http://a/x#x-device=mobile', 'GET http://a/x#side=canary'];
  const kept = ['GET http://a/xy', 'GET http://a/xy#side=canary', 'GET http://a/x?q=1'];
  const flights = [...gone, ...kept].map(lead);
  c.markPass('GET http://a/x');
  c.forgetUri('GET http://a/x');
  for (const k of gone) assert.equal(c.has(k), false, k);
  for (const k of kept) assert.equal(c.has(k), true, k);
  assert.equal(c.passing('GET http://a/x'), false);
  assert.equal(await flights[1]!.outcome, gone[1], 'an unlisted flight still completes for its clients');
  // Replaced, unlisted and forgotten flights keep the count of keyed ones right: none listed, none found.
  c.forgetUri('GET http://a/xy');
  lead('GET http://a/z#side=canary');
  lead('GET http://a/z#side=canary');
  c.forgetUri('GET http://a/z');
  assert.equal(c.has('GET http://a/z#side=canary'), false);
  assert.equal(c.flightCount, 1, 'only the query URI is left');
});

test('hit-for-pass is bounded: past maxPassKeys the oldest mark is forgotten, a re-marked key is young again', () => {
  const clock = new FakeClock(1_000);
  const c = new Coalescer<number>(clock, 60_000, { maxKeys: 3, maxKeyBytes: 2 ** 20 });
  for (const k of ['a', 'b', 'c']) c.markPass(k);
  c.markPass('a'); // a is now the youngest
  c.markPass('d'); // b, the oldest, goes
  assert.equal(c.passKeys, 3);
  assert.equal(c.passing('b'), false);
  for (const k of ['a', 'c', 'd']) assert.equal(c.passing(k), true, k);
});

test("a refetch's flight (\"key\\n…\", pipeline/shared-fetch.ts refetchFlight) goes with its URI's purge and invalidation", () => {
  const c = new Coalescer<string>(new FakeClock(), 1000);
  const lead = (k: string) => c.lead(k, () => ({ outcome: Promise.resolve(k), done: new Promise(() => {}) }));
  lead('GET http://a/x\naccept-language=fr\n');
  lead('GET http://a/y\n');
  lead('GET http://a/xy\n');
  // A purge's selector names the URI's key: the refetch's flight is matched by it.
  assert.equal(c.forget((k) => k === 'GET http://a/x'), 1);
  assert.equal(c.has('GET http://a/x\naccept-language=fr\n'), false);
  c.forgetUri('GET http://a/y');
  assert.equal(c.has('GET http://a/y\n'), false);
  assert.equal(c.has('GET http://a/xy\n'), true, 'another URI\'s refetch stays');
});
