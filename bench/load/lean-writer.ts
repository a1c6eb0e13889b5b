// lean-cache.ts's write-behind thread: each message is one turn's batch of answers;
// their bodies are appended to `body` and their lines to `index` in one writev each.

import { openSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

export interface LeanWrite {
  line: string;
  body: Uint8Array;
}

const { dir } = workerData as { dir: string };
const bodies = openSync(join(dir, 'body'), 'a');
const index = openSync(join(dir, 'index'), 'a');
parentPort!.on('message', (batch: LeanWrite[]) => {
  let lines = '';
  for (const w of batch) lines += w.line + '\n';
  writevSync(bodies, batch.map((w) => w.body));
  writevSync(index, [Buffer.from(lines)]);
});
