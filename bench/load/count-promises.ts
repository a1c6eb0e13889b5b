// Counts the promises a process creates between two SIGUSR2 signals (bench/ab/counts.sh):
// loaded with `node --import ./dist/bench/load/count-promises.js`. The first signal starts
// the count, the second prints {"promises":N} on stderr. A count per request does not move
// with the machine's speed, unlike CPU time on this VM.

import { promiseHooks } from 'node:v8';

let counting = false;
let created = 0;
promiseHooks.onInit(() => {
  if (counting) created++;
});
process.on('SIGUSR2', () => {
  if (!counting) {
    created = 0;
    counting = true;
    return;
  }
  counting = false;
  process.stderr.write(JSON.stringify({ promises: created }) + '\n');
});
