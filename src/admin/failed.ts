// An admin request that failed inside the node (a bug, a damaged record no step
// foresaw): one error line with its code, message and resource, and the client
// answered 500 — or cut, once its head is out. The message stays in the log: it
// names keys, files and causes (errors.ts clientMessageOf), and the admin port
// may be reachable from the network. Every admin resource that catches its own
// failures reports them here, so none fails without a log line.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.js';
import { json } from './purge.js';

/** `admin`: the resource that failed (e.g. 'explain'), as the log line names it. */
export function answerAdminFailure(logger: Pick<Logger, 'error'>, req: IncomingMessage, res: ServerResponse, err: unknown, admin: string): void {
  logger.error({ admin, code: 'INTERNAL', err: err instanceof Error ? err.message : String(err), url: req.url }, 'admin request failed');
  if (!res.headersSent) json(res, 500, { error: 'INTERNAL', message: 'the admin request failed; see the node log' });
  else res.destroy();
}
