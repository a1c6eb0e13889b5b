// `POST /reload` on the admin listener: behind the admin token (as POST /purge)
// and the admin Host check (admin.ts). Asks the node to re-read its configuration
// from the sources it started with and answers what the node did (src/node.ts,
// reload): 200 with the settings applied and those needing a restart, or 422
// RELOAD_REFUSED with the one-line configuration error, the running
// configuration unchanged.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigChanges } from '../config/reload.js';
import { isStrataError, StrataError } from '../errors.js';
import { answerError, checkBearer, json } from './purge.js';

export interface ReloadRouteDeps {
  token: string;
  /** Re-read and apply; rejects with RELOAD_REFUSED when the new configuration is invalid. */
  reload: () => Promise<ConfigChanges>;
}

export function createReloadRoute(deps: ReloadRouteDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    // The body means nothing; read it off so the connection can be reused.
    req.resume();
    const denied = checkBearer(req.headers.authorization, deps.token, 'reload');
    // The shared refusal: a 401 carries WWW-Authenticate (RFC 9110 §11.6.1), as /purge's does.
    if (denied) return answerError(res, denied);
    deps.reload().then(
      (changes) => json(res, 200, { status: changes.applied.length + changes.restartRequired.length === 0 ? 'unchanged' : 'reloaded', ...changes }),
      (err: unknown) => {
        const e = isStrataError(err) && err.code === 'RELOAD_REFUSED' ? err : new StrataError('INTERNAL', `reload failed: ${(err as Error).message}`);
        json(res, e.status, { error: e.code, message: e.message });
      },
    );
  };
}
