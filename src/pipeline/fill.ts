// The fill: one mechanism that writes an origin body to the tiers while clients
// read the same shared body, for whole objects (fetch-and-store.ts) and for each
// slice of a sliced one (slices.ts) alike.
//
// Invariants: the entry is committed only when the body arrived whole and its
// length matched (the store's writer checks; a failure aborts it, nothing is
// stored); the body's end reaches clients only once the fill is over (the seal),
// so a client holding its whole answer finds the entry on its next request; the
// fill paces the origin read through the writer's backpressure.

import type { Logger } from 'pino';
import type { Readable } from 'node:stream';
import { AbandonedError, SharedBody } from '../coalesce/shared-body.js';
import type { BodyWriter } from '../store/types.js';

export interface FillOptions {
  windowBytes: number;
  /** Announced body length, or -1. */
  expectedLength: number;
  logger: Logger;
  /** Fields of the log line when the fill fails (request id, URL, slice...). */
  logFields: Record<string, unknown>;
  /** The log line's message when the fill fails. */
  notStored: string;
  /** After the commit (counters, tidying); a rejection counts as a failed fill. */
  committed: () => unknown;
  /** Called once the store work is over, whatever its result: `stored` when the entry was committed. */
  over: (stored: boolean) => void;
}

/** Start filling `writer` from `source`; returns the shared body clients read. */
export function startFill(source: Readable, writer: BodyWriter, opts: FillOptions): SharedBody {
  let sealed!: () => void;
  const seal = new Promise<void>((r) => (sealed = r));
  const body = new SharedBody(source, { windowBytes: opts.windowBytes, expectedLength: opts.expectedLength }, seal);
  const settle = (stored: boolean) => {
    sealed();
    opts.over(stored);
  };
  const failFill = (err: Error) => {
    writer.abort(err);
    // A body given up on purpose is not worth a warning.
    opts.logger[err instanceof AbandonedError ? 'debug' : 'warn']({ ...opts.logFields, err: err.message }, opts.notStored);
    settle(false);
  };
  // One handler for every chunk's write, not a closure per chunk.
  const writeFailed = (err: Error) => {
    stop?.();
    failFill(err);
  };
  const stop = body.consume(
    {
      // A chunk the writer took at once (a body held in memory): the next one can come now.
      chunk: (chunk, more) => {
        let taking: void | Promise<void>;
        try {
          taking = writer.write(chunk);
        } catch (err) {
          // Not from within consume() below, which may feed the first chunk before `stop` is set.
          queueMicrotask(() => writeFailed(err as Error));
          return false;
        }
        if (taking === undefined) return true;
        taking.then(more, writeFailed);
        return false;
      },
      end: (last) => {
        let committing: Promise<void>;
        try {
          const taking = last ? writer.write(last) : undefined;
          committing = taking ? taking.then(() => writer.commit()) : writer.commit();
        } catch (err) {
          failFill(err as Error);
          return;
        }
        committing.then(() => opts.committed()).then(() => settle(true), failFill);
      },
      error: failFill,
    },
    true,
  );
  return body;
}
