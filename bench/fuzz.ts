// The long fuzz run (`npm run fuzz`): the suite of test/fuzz/ with more cases and a
// fresh seed each run (printed first, and with any failure, for replay).
//   FUZZ_RUNS=20000 FUZZ_SEED=123 npm run fuzz
// Env: FUZZ_RUNS (default 5000), FUZZ_SEED (default: random), FUZZ_ROUNDS (seeds in a row, default 1).

import { runFuzz } from '../test/fuzz/requests.js';

const runs = Number(process.env['FUZZ_RUNS'] ?? 5000);
const rounds = Number(process.env['FUZZ_ROUNDS'] ?? 1);
let seed = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

for (let round = 0; round < rounds; round++, seed++) {
  console.log(`fuzz: seed ${seed}, ${runs} runs (replay: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npm run fuzz)`);
  const started = Date.now();
  try {
    const r = await runFuzz({ runs, seed, probeEvery: 100 });
    console.log(`fuzz: ${r.cases} cases in ${((Date.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(r.statuses)}`);
  } catch (err) {
    console.error(`fuzz: FAILED with seed ${seed}`);
    console.error((err as Error).message);
    process.exitCode = 1;
    break;
  }
}
