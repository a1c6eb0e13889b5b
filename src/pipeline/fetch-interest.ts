// Who still waits for an origin fetch's first answer (a miss's, shared-fetch.ts, or a
// pass-through's, pass.ts). A fetch a client started is cancelled when every client
// waiting on it has gone (an HTTP/2 reset, a closed
// connection) before the origin answered: a reset stream must not leave an
// origin request queued or held (HTTP/2 rapid reset, CVE-2023-44487, at the
// application's level), and the flight is unlisted first so that a request
// arriving after it starts a fetch of its own instead of joining a cancelled one.
// Once the origin has answered, leaving cancels nothing: the fill goes on for the
// cache (a shared body is abandoned only when no client and no fill needs it).
// Background fetches (revalidation, fills nobody waits on) have no interest and
// are never cancelled.

import type { ServerResponse } from 'node:http';
import { Canceller, type CancelSignal } from '../util/cancel-signal.js';

export interface Interest {
  readonly signal: CancelSignal;
  /** Count `res`'s client as waiting until the fetch answers (or it leaves). */
  watch(res: ServerResponse): void;
  /** The origin answered (or the fetch failed): nobody's leaving cancels it now. */
  settle(): void;
}

export function fetchInterest(onCancel: () => void = () => undefined): Interest {
  const cancel = new Canceller();
  let waiting = 0;
  let settled = false;
  const watched: { res: ServerResponse; gone: () => void }[] = [];
  return {
    signal: cancel,
    watch(res) {
      if (settled) return;
      waiting++;
      const gone = (): void => {
        if (settled || --waiting > 0) return;
        settled = true;
        onCancel();
        cancel.abort();
      };
      // Gone already (reset while the guard or a look-up ran): 'close' will not come again.
      if (res.destroyed) return gone();
      res.once('close', gone);
      watched.push({ res, gone });
    },
    settle() {
      if (settled && watched.length === 0) return;
      settled = true;
      for (const w of watched) w.res.off('close', w.gone);
      watched.length = 0;
    },
  };
}
