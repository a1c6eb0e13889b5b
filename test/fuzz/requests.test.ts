// The fuzz suite, bounded for `npm test`: a fixed seed (FUZZ_SEED to change it) and
// a few hundred cases (FUZZ_RUNS), a few seconds. A failure names the seed and
// the shrunk case; replay it with FUZZ_SEED=<seed>. The long run: `npm run fuzz`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from './requests.js';

const seed = Number(process.env['FUZZ_SEED'] ?? 20261130);
const runs = Number(process.env['FUZZ_RUNS'] ?? 300);

test(`raw requests against a live node: no crash, no 5xx for a client's error, no key's body under another (seed ${seed}, ${runs} runs)`, { timeout: 60_000 }, async () => {
  try {
    const r = await runFuzz({ runs, seed });
    assert.equal(r.cases, runs);
    // The cases reach the cache, not only the parser's refusals.
    assert.ok((r.statuses[200] ?? 0) > runs / 10, `statuses: ${JSON.stringify(r.statuses)}`);
  } catch (err) {
    console.error(`fuzz failure with FUZZ_SEED=${seed}`);
    throw err;
  }
});
