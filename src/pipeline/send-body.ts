// Streaming a body (an origin response, or a reader of a shared one) to a client
// with backpressure. A body that fails mid-way cuts the client connection (never
// a clean end). A client that goes away stops the read: the source is destroyed,
// which for a shared body detaches this reader only — the fetch goes on while the
// cache fill or another client still needs it.

import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * Where a streamed answer counts the body bytes it hands to the client, as it
 * hands them: the access line is written when the response closes, which can be
 * before the stream's promise settles (the request context is one).
 */
export interface ByteTally {
  bytes: number;
}

export interface SendResult {
  /** Bytes written to the client. */
  sent: number;
  /** The body arrived whole. */
  complete: boolean;
  error?: Error;
}

/** Resolves when `res` can take more, or is closed (a writer must not wait forever on a gone client). */
export function drainOrClose(res: ServerResponse): Promise<void> {
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

export async function sendBody(source: Readable, res: ServerResponse, tally: ByteTally): Promise<SendResult> {
  let sent = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (res.destroyed) {
        source.destroy();
        return { sent, complete: false };
      }
      sent += chunk.length;
      tally.bytes += chunk.length;
      if (!res.write(chunk) && !res.destroyed) await drainOrClose(res);
      if (res.destroyed) {
        // Nobody needs the rest here.
        source.destroy();
        return { sent, complete: false };
      }
    }
  } catch (err) {
    res.destroy();
    return { sent, complete: false, error: err as Error };
  }
  if (!res.destroyed && !res.writableEnded) res.end();
  return { sent, complete: true };
}
