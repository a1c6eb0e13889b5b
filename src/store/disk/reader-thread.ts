// The disk tier's reader: a worker thread that reads whole small bodies with
// synchronous preads on descriptors the tier holds open (read-handles.ts), a batch at
// a time. Why a thread: a disk hit's read through libuv's pool cost ~3.7 context
// switches per hit on the request path's core (a pool thread woken per read, and
// the loop woken per completion); here one batch of reads costs one message each
// way, whatever its size. Nothing here runs on the event loop.
//
// Invariants: a read's bytes are its own ArrayBuffer, transferred (not copied) back;
// a failed read answers its error code and never stops the batch; the thread keeps
// no descriptor of its own (the tier keeps each open while a read of it is sent).

import { readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { ReadBatch, ReadReply, ReadResult } from './read-thread.js';

function readOne(fd: number, off: number, len: number): ReadResult {
  try {
    const ab = new ArrayBuffer(len);
    const view = new Uint8Array(ab);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, view, got, len - got, off + got);
      if (n === 0) break;
      got += n;
    }
    return { ab, got };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { code: e.code ?? 'EIO', message: e.message };
  }
}

parentPort!.on('message', (batch: ReadBatch) => {
  const results: ReadResult[] = [];
  const transfer: ArrayBuffer[] = [];
  for (let i = 0; i < batch.reads.length; i += 3) {
    const r = readOne(batch.reads[i]!, batch.reads[i + 1]!, batch.reads[i + 2]!);
    if ('ab' in r) transfer.push(r.ab);
    results.push(r);
  }
  const reply: ReadReply = { results };
  parentPort!.postMessage(reply, transfer);
});
