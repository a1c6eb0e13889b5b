// Samples the heap allocations of a process between two SIGUSR2 signals (bench/ab/alloc-sites.sh):
// loaded with `node --import ./dist/bench/load/sample-allocations.js`. The first signal starts
// V8's sampling heap profiler (a sample every 256 bytes on average: over thousands of requests
// each function's share is precise to a few bytes a request); the second writes the profile to
// $ALLOC_OUT. With ALLOC_SURVIVORS=1 the objects a scavenge collected are left out: what is left
// is what lived long enough to be copied, the allocations that make scavenges cost. With
// ALLOC_SURVIVORS=2 those a full collection collected are left out too: what is left is alive at
// the end (set against =1, the difference is what was copied, or promoted, and died anyway).

import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const session = new Session();
session.connect();
let sampling = false;
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    const survivors = Number(process.env['ALLOC_SURVIVORS'] ?? 0);
    session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: survivors < 2, includeObjectsCollectedByMinorGC: survivors < 1 });
    return;
  }
  sampling = false;
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (err) throw err;
    writeFileSync(process.env['ALLOC_OUT'] ?? 'allocations.heapprofile', JSON.stringify(r.profile));
  });
});
