// `GET /explain?url=...` on the admin listener: gathers what the node knows about
// one URL (its stored variants and the tiers holding them, the last refusal to
// store it, hit-for-pass, the disk index loading) and answers the pure
// explanation of cache/explain.ts as JSON. Behind the admin token (as POST /purge)
// and the admin Host check (admin.ts). Reads only: nothing is fetched or changed.
//
// The URL: absolute (`http://host/path?q`) is keyed by its host and port; a path
// (`/path?q`) by the origin's host, as a request without Host is. The scheme does
// not count: the node keys every request as http. The target is taken as written,
// as a request's is (url-place.ts, shared with POST /purge).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { explain, type Tier } from '../cache/explain.js';
import { KEY_SCHEME, primaryKey } from '../cache/key.js';
import { StrataError } from '../errors.js';
import type { NotStoredLog } from '../observability/not-stored.js';
import type { EntryMeta, VariantMeta } from '../entry.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../observability/logger.js';
import { answerAdminFailure } from './failed.js';
import { checkBearer, json } from './purge.js';
import { placeOf } from './url-place.js';

export interface ExplainDeps {
  token: string;
  /** Where a failure inside the route is reported (admin/failed.ts). */
  logger: Pick<Logger, 'error'>;
  clock: Clock;
  /** The host a path is looked up under (the origin's, as for a request without Host). */
  originHost: string;
  targetedField: string;
  defaults: { staleWhileRevalidateS: number; staleIfErrorS: number };
  store: {
    variants(primaryKey: string): VariantMeta[];
    /** The whole metadata of a variant that keeps it packed in memory or on disk only (store/tiered.ts). */
    readMeta(key: string): Promise<EntryMeta | undefined>;
    memory: { has(key: string): boolean };
    disk: { has(key: string): boolean; stats(): { loading: boolean } };
  };
  notStored: Pick<NotStoredLog, 'get'>;
  hitForPass: (primaryKey: string) => boolean;
  /** How a route keys a URL (query options; src/routing/); absent: as given. */
  keyOf?: (host: string, target: string) => { target: string } | undefined;
}

/** The primary key a URL (absolute or a path) is stored under, or a refusal. */
export function explainTarget(raw: string | null, originHost: string, keyOf?: ExplainDeps['keyOf']): { url: string; key: string; hostRule: string } | StrataError {
  if (raw === null || raw === '') return new StrataError('BAD_REQUEST', 'explain needs ?url=<absolute URL or /path>, e.g. /explain?url=http://example.com/a');
  // The host and target exactly as a request is keyed, and as POST /purge reads them
  // (url-place.ts): no re-encoding, so `?q="x"` finds what `GET /search?q="x"` stored.
  const place = placeOf(raw);
  if (!place.ok) return new StrataError('BAD_REQUEST', `url ${place.problem}`);
  const host = place.host ?? originHost;
  // The route's key options (ignored, sorted query parameters) as a request would have them.
  const key = primaryKey(KEY_SCHEME, host, keyOf?.(host, place.target)?.target ?? place.target);
  return {
    url: key.slice(4),
    key,
    hostRule: raw.startsWith('/')
      ? `a path: looked up under the origin host ${originHost}, as a request without Host is`
      : 'an absolute URL: looked up under its own host and port (the scheme does not count; a path would use the origin host)',
  };
}

export function createExplainRoute(deps: ExplainDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    answer(req, res).catch((err: unknown) => answerAdminFailure(deps.logger, req, res, err, 'explain'));
  };

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const denied = checkBearer(req.headers.authorization, deps.token, 'explain');
    if (denied) return json(res, denied.status, { error: denied.code, message: denied.message }, denied.code === 'UNAUTHORIZED' ? ['www-authenticate', 'Bearer realm="strata"'] : []);
    const asked = explainTarget(new URL(req.url ?? '/', 'http://admin').searchParams.get('url'), deps.originHost, deps.keyOf);
    if (asked instanceof StrataError) return json(res, asked.status, { error: asked.code, message: asked.message });
    const { store } = deps;
    const variants: { meta: EntryMeta; tier: Tier }[] = [];
    for (const v of store.variants(asked.key)) {
      const meta = 'headers' in v ? (v as EntryMeta) : await store.readMeta(v.key);
      if (!meta) continue;
      const m = store.memory.has(meta.key);
      const d = store.disk.has(meta.key);
      variants.push({ meta, tier: m && d ? 'both' : m ? 'memory' : 'disk' });
    }
    json(
      res,
      200,
      explain({
        url: asked.url,
        hostRule: asked.hostRule,
        primaryKey: asked.key,
        variants,
        notStored: deps.notStored.get(asked.key),
        hitForPass: deps.hitForPass(asked.key),
        diskLoading: store.disk.stats().loading,
        nowMs: deps.clock.now(),
        targetedField: deps.targetedField,
        defaults: deps.defaults,
      }),
    );
  }
}
