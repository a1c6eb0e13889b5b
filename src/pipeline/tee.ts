// Streaming an origin body to the client and into the cache at once. The client
// gets bytes as they arrive; the cache writer sees the same bytes and commits
// only when the body ended whole. If the origin fails mid-body, the writer is
// aborted and the client connection is cut (never ended cleanly). If the client
// goes away, the origin read continues only while the cache fill needs it.

import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { BodyWriter } from '../store/types.js';

export interface TeeResult {
  /** Body bytes received from the origin. */
  bytes: number;
  /** Bytes written to the client. */
  sent: number;
  /** The origin body arrived whole. */
  complete: boolean;
  error?: Error;
}

function waitDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * @param toClient false when the client is owed no body (HEAD, 304): the source is
 *   still read for the writer.
 */
export async function tee(source: Readable, res: ServerResponse, writer: BodyWriter | undefined, toClient: boolean): Promise<TeeResult> {
  let bytes = 0;
  let sent = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (writer) await writer.write(chunk);
      if (toClient && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) await waitDrain(res);
      }
      if (!writer && res.destroyed) {
        // Nobody needs the rest: stop the origin transfer.
        source.destroy();
        return { bytes, sent, complete: false };
      }
    }
  } catch (err) {
    writer?.abort(err as Error);
    res.destroy();
    return { bytes, sent, complete: false, error: err as Error };
  }
  if (!res.destroyed) res.end();
  return { bytes, sent, complete: true };
}
