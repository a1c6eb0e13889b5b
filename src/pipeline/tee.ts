// Streaming an origin body to the client and into the cache at once. The client
// gets bytes as they arrive; only the end of the answer waits for the cache
// writer's commit — the final chunk of a known-length body, or the terminating
// chunk of a chunked one — so a client that has its whole answer can rely on the
// next request finding the entry. The writer commits only when the body ended
// whole. If the origin fails mid-body, the writer is aborted and the client
// connection is cut (never ended cleanly). If the client goes away, the origin
// read continues only while the cache fill needs it.

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
 * @param commit called once the body arrived whole, before the client's answer ends.
 */
export async function tee(
  source: Readable,
  res: ServerResponse,
  writer: BodyWriter | undefined,
  toClient: boolean,
  commit?: () => Promise<void>,
  /** Announced body length, or -1. */
  expectedLength = -1,
): Promise<TeeResult> {
  let bytes = 0;
  let sent = 0;
  let held: Buffer | undefined;
  const send = async (chunk: Buffer) => {
    if (!toClient || res.destroyed) return;
    sent += chunk.length;
    if (!res.write(chunk)) await waitDrain(res);
  };
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (writer) {
        await writer.write(chunk);
        if (bytes === expectedLength) held = chunk;
        else await send(chunk);
      } else {
        await send(chunk);
        if (res.destroyed) {
          // Nobody needs the rest: stop the origin transfer.
          source.destroy();
          return { bytes, sent, complete: false };
        }
      }
    }
  } catch (err) {
    writer?.abort(err as Error);
    res.destroy();
    return { bytes, sent, complete: false, error: err as Error };
  }
  if (commit) await commit();
  if (held) await send(held);
  if (!res.destroyed && !res.writableEnded) res.end();
  return { bytes, sent, complete: true };
}
