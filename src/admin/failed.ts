// An admin request that failed inside the node (a bug, a damaged record no step
// foresaw): one error line with its code, message and resource, and the client
// answered 500 — or cut, once its head is out. The message stays in the log: it
// names keys, files and causes (errors.ts clientMessageOf), and the admin port
// may be reachable from the network. Every admin resource that catches its own
// failures reports them here, so none fails without a log line.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_CATALOG, type ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { json } from './purge.js';

/**
 * `admin`: the resource that failed (e.g. 'explain'), as the log line names it; `code`:
 * a catalog code of an internal failure (status 500) that says more than INTERNAL.
 */
export function answerAdminFailure(logger: Pick<Logger, 'error'>, req: IncomingMessage, res: ServerResponse, err: unknown, admin: string, code: InternalCode = 'INTERNAL'): void {
  logger.error({ admin, code, err: err instanceof Error ? err.message : String(err), url: req.url }, 'admin request failed');
  if (!res.headersSent) json(res, ERROR_CATALOG[code].status, { error: code, message: `the admin request failed (${ERROR_CATALOG[code].summary}); see the node log` });
  else res.destroy();
}

/** The catalog's codes of failures inside the node that an admin request may end with. */
type InternalCode = Extract<ErrorCode, 'INTERNAL' | 'METRICS_FAILED'>;
