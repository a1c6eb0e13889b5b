// The node's admin address with several workers: worker 0 answers it and speaks
// for every worker. What is per worker is asked of each worker over its admin
// link (loopback) and combined here; everything else is worker 0's own answer
// (a purge is carried to every worker by the purge fan-out; its answer waits up to
// cluster.purgeAckTimeoutMs for each and names any still pending).
//
// - GET /stats: the node as a whole (node-figures.ts: what adds up summed, a
//   client request counted once, counters never falling: counter-carry.ts) plus `workers`, each worker's own /stats;
// - GET /metrics: every series of the node (node-figures.ts: counters, histograms
//   and additive gauges summed, counters never falling when a worker restarts or
//   does not answer: counter-carry.ts; other gauges the largest, a start time the
//   smallest), then each worker's series again with a `worker` label (aggregate
//   with {worker=""} or by worker, never both);
// - POST /reload: sent to every worker (same credentials); answers once all did
//   (a refusal: the first refusing worker's status, error and message on top, with
//   its WWW-Authenticate, every worker's answer under `workers`);
// - routing changes (POST /upstreams/drain, /upstreams/undrain,
//   /routes/SITE/ROUTE/weights): sent to every worker (same credentials and body),
//   since each worker routes its own clients; answered once all did;
// - GET /upstreams/drain: asked of every worker: in-flight requests summed,
//   "drained" only when every worker says so (a worker that does not answer
//   makes the answer an error, never "drained").

import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { answerError, json, readBody } from '../admin/purge.js';
import type { DrainState, DrainStatus } from '../routing/drain.js';
import { StrataError } from '../errors.js';
import { combineMetrics, combineStats } from './node-figures.js';
import { CounterCarry, statsCounters } from './counter-carry.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface WorkerAdmin {
  /** `w0`, `w1`... */
  name: string;
  /** http://127.0.0.1:PORT of its admin link. */
  url: string;
}

const ASK_TIMEOUT_MS = 5_000;
/** As admin/routes.ts reads them. */
const ROUTING_BODY_MAX_BYTES = 64 * 1024;
const WEIGHTS_PATH = /^\/routes\/[^/]+\/[^/]+\/weights$/;

interface WorkerAnswer {
  name: string;
  status: number;
  text: string;
  /** The worker's WWW-Authenticate (on a 401), passed on with its refusal. */
  wwwAuthenticate?: string;
}

async function ask(w: WorkerAdmin, method: 'GET' | 'POST', path: string, authorization: string | undefined, body?: Buffer): Promise<Omit<WorkerAnswer, 'name'>> {
  const res = await request(w.url + path, {
    method,
    headers: { host: '127.0.0.1', ...(authorization ? { authorization } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body } : {}),
    headersTimeout: ASK_TIMEOUT_MS,
    bodyTimeout: ASK_TIMEOUT_MS,
  });
  const challenge = res.headers['www-authenticate'];
  const text = await res.body.text();
  return { status: res.statusCode, text, ...(typeof challenge === 'string' ? { wwwAuthenticate: challenge } : {}) };
}

/** The fields a combined answer passes on from the worker whose refusal it is (WWW-Authenticate on a 401). */
function passedFields(failed: WorkerAnswer | undefined): string[] {
  return failed?.wwwAuthenticate !== undefined ? ['www-authenticate', failed.wwwAuthenticate] : [];
}

/** Each worker's answer as JSON (its status added when it is not 200), by worker name. */
function perWorker(answers: readonly WorkerAnswer[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of answers) {
    try {
      const o = JSON.parse(a.text) as Record<string, unknown>;
      out[a.name] = a.status === 200 ? o : { status: a.status, ...o };
    } catch {
      out[a.name] = { status: a.status };
    }
  }
  return out;
}

/**
 * One answer for a routing change or a drain status asked of every worker: a
 * worker's refusal (or silence) is the answer, with every worker's beside it;
 * else `merge` of their bodies.
 */
export function combineRouting(answers: readonly WorkerAnswer[], merge: (bodies: Record<string, unknown>[]) => Record<string, unknown>): { status: number; body: Record<string, unknown>; fields: string[] } {
  const workers = perWorker(answers);
  const failed = answers.find((a) => a.status !== 200);
  if (failed) return { status: failed.status, body: { ...refusalOf(failed, workers), workers }, fields: passedFields(failed) };
  try {
    return { status: 200, body: { ...merge(answers.map((a) => JSON.parse(a.text) as Record<string, unknown>)), workers }, fields: [] };
  } catch (err) {
    return { status: 502, body: { error: 'WORKER_UNREADABLE', message: `a worker's answer could not be read (${(err as Error).message})`, workers }, fields: [] };
  }
}

/** The refusing worker's own answer without its status (its error and message), for the top level of the node's. */
function refusalOf(failed: WorkerAnswer, workers: Record<string, unknown>): Record<string, unknown> {
  const { status: _s, ...own } = workers[failed.name] as Record<string, unknown>;
  if (own['error'] === undefined) return { error: 'WORKER_UNREADABLE', message: `worker ${failed.name} answered ${failed.status} without a readable body`, ...own };
  return own;
}

/**
 * `POST /reload` on every worker, as one answer: every worker's (with its status) under
 * `workers`; when some worker refused or failed, the first one's status, error and
 * message at the top level (with its WWW-Authenticate), as a routing change's are.
 */
export function combineReload(answers: readonly WorkerAnswer[]): { status: number; body: Record<string, unknown>; fields: string[] } {
  const workers: Record<string, unknown> = {};
  for (const a of answers) {
    try {
      workers[a.name] = { status: a.status, ...(JSON.parse(a.text) as Record<string, unknown>) };
    } catch {
      workers[a.name] = { status: a.status };
    }
  }
  const failed = answers.find((a) => a.status < 200 || a.status > 299);
  if (!failed) return { status: Math.max(...answers.map((a) => a.status)), body: { workers }, fields: [] };
  return { status: failed.status, body: { ...refusalOf(failed, workers), workers }, fields: passedFields(failed) };
}

/**
 * The node's drain status from its workers': in-flight requests summed; drained
 * only when every worker is; serving when some worker still sends it new requests.
 */
export function mergeDrain(bodies: Record<string, unknown>[]): Record<string, unknown> {
  const each = bodies as unknown as DrainStatus[];
  const first = each[0];
  if (first === undefined) throw new Error('no worker answered');
  const states = new Set<DrainState>(each.map((s) => s.state));
  const state: DrainState = states.has('serving') ? 'serving' : states.size === 1 && states.has('drained') ? 'drained' : 'draining';
  return { upstream: first.upstream, state, inFlight: each.reduce((n, s) => n + s.inFlight, 0), pools: first.pools };
}

/**
 * Worker 0's handler for the node's admin address: `inner` is its own admin handler;
 * `refused` its gate (the Host check), run before the paths answered here — asked only
 * for those, since a peer's proof is accepted once.
 */
export function nodeAdminView(inner: Handler, refused: (req: IncomingMessage, res: ServerResponse) => boolean, workers: WorkerAdmin[], nodeId: string): Handler {
  const all = async (method: 'GET' | 'POST', path: string, authorization: string | undefined, body?: Buffer): Promise<WorkerAnswer[]> =>
    Promise.all(
      workers.map(async (w) => {
        try {
          return { name: w.name, ...(await ask(w, method, path, authorization, body)) };
        } catch (err) {
          return { name: w.name, status: 502, text: JSON.stringify({ error: 'WORKER_UNREACHABLE', message: `worker ${w.name}: ${(err as Error).message}` }) };
        }
      }),
    );
  // The node's counters keep what restarted and silent workers counted (counter-carry.ts).
  const carry = new CounterCarry();
  const statsCarry = new CounterCarry();
  const workerNames = workers.map((w) => w.name);
  const fail = (res: ServerResponse, err: unknown) => json(res, 500, { error: 'INTERNAL', message: (err as Error).message });
  /** A routing change, with its body, on every worker. */
  const routingChange = async (req: IncomingMessage, res: ServerResponse, path: string, merge: (bodies: Record<string, unknown>[]) => Record<string, unknown>): Promise<void> => {
    const body = await readBody(req, ROUTING_BODY_MAX_BYTES);
    if (body === undefined) return;
    if (body instanceof StrataError) return answerError(res, body, [], true);
    const { status, body: out, fields } = combineRouting(await all('POST', path, req.headers.authorization, body), merge);
    json(res, status, out, fields);
  };
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const drainPath = path === '/upstreams/drain' || path === '/upstreams/undrain';
    const routing = req.method === 'POST' ? drainPath || WEIGHTS_PATH.test(path) : req.method === 'GET' && path === '/upstreams/drain';
    const here = routing || ((path === '/stats' || path === '/metrics') ? req.method === 'GET' : path === '/reload' && req.method === 'POST');
    if (here && refused(req, res)) return void req.resume();
    if (routing && req.method === 'GET') {
      all('GET', req.url ?? path, undefined).then((answers) => {
        const { status, body, fields } = combineRouting(answers, mergeDrain);
        json(res, status, body, fields);
      }, (err: unknown) => fail(res, err));
      return;
    }
    if (routing) {
      // Every worker answers alike (same configuration): the first one's answer stands for them.
      routingChange(req, res, path, drainPath ? mergeDrain : (bodies) => bodies[0]!).catch((err: unknown) => fail(res, err));
      return;
    }
    if (path === '/stats' && req.method === 'GET') {
      // The client's token goes on: each worker shows the values in its top missed keys only to its bearer.
      all('GET', '/stats', req.headers.authorization).then((answers) => {
        const per: Record<string, unknown> = {};
        const figures: Record<string, unknown>[] = [];
        const named = new Map<string, Record<string, unknown>>();
        for (const a of answers) {
          try {
            const o = JSON.parse(a.text) as Record<string, unknown>;
            per[a.name] = o;
            if (a.status === 200) {
              figures.push(o);
              named.set(a.name, o);
            }
          } catch {
            per[a.name] = { error: 'UNREADABLE', status: a.status };
          }
        }
        const { descriptions, ...node } = combineStats(figures);
        for (const [k, v] of statsCarry.settle(workerNames, statsCounters(named))) node[k] = (typeof node[k] === 'number' ? node[k] : 0) + v;
        json(res, 200, { node: nodeId, workerCount: workers.length, workersAnswering: figures.length, ...node, workers: per, descriptions });
      }, (err: unknown) => fail(res, err));
      return;
    }
    if (path === '/metrics' && req.method === 'GET') {
      all('GET', '/metrics', undefined).then((answers) => {
        const text = combineMetrics(answers.filter((a) => a.status === 200), { carry, workers: workerNames });
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }, (err: unknown) => fail(res, err));
      return;
    }
    if (path === '/reload' && req.method === 'POST') {
      all('POST', '/reload', req.headers.authorization).then((answers) => {
        const { status, body, fields } = combineReload(answers);
        json(res, status, body, fields);
      }, (err: unknown) => fail(res, err));
      req.resume();
      return;
    }
    inner(req, res);
  };
}
