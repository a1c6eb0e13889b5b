// The node's admin address with several workers: worker 0 answers it and speaks
// for every worker. What is per worker is asked of each worker over its admin
// link (loopback) and combined here; everything else is worker 0's own answer
// (a purge reaches every worker through the purge fan-out before it answers).
//
// - GET /stats: the node as a whole (every counter and tier figure summed over
//   the workers) plus `workers`, each worker's own /stats;
// - GET /metrics: every series summed over the workers (the node), then each
//   worker's series again with a `worker` label (aggregate with {worker=""} or
//   by worker, never both);
// - POST /reload: sent to every worker (same credentials); answers once all did.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { json } from '../admin/purge.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface WorkerAdmin {
  /** `w0`, `w1`... */
  name: string;
  /** http://127.0.0.1:PORT of its admin link. */
  url: string;
}

const ASK_TIMEOUT_MS = 5_000;

async function ask(w: WorkerAdmin, method: 'GET' | 'POST', path: string, authorization: string | undefined): Promise<{ status: number; text: string }> {
  const res = await request(w.url + path, {
    method,
    headers: { host: '127.0.0.1', ...(authorization ? { authorization } : {}) },
    headersTimeout: ASK_TIMEOUT_MS,
    bodyTimeout: ASK_TIMEOUT_MS,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

/** Sum numbers found at the same place in every object (nested objects too); other values from the first. */
export function sumFigures(objects: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of objects) {
    for (const [k, v] of Object.entries(o)) {
      const have = out[k];
      if (typeof v === 'number') out[k] = (typeof have === 'number' ? have : 0) + v;
      else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = sumFigures([...(have && typeof have === 'object' && !Array.isArray(have) ? [have as Record<string, unknown>] : []), v as Record<string, unknown>]);
      else if (!(k in out)) out[k] = v;
    }
  }
  return out;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/;

/**
 * Prometheus text of every worker → each series summed (the node), followed by
 * the same series of each worker with a `worker` label: a family's lines stay
 * together under its HELP/TYPE (the text format wants them grouped).
 */
export function combineMetrics(texts: { name: string; text: string }[]): string {
  const order: string[] = [];
  const sums = new Map<string, number>();
  const perWorker = new Map<string, string[]>();
  const seenMeta = new Set<string>();
  for (const { name, text } of texts) {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        if (!seenMeta.has(line)) {
          seenMeta.add(line);
          order.push(line);
        }
        continue;
      }
      const m = SAMPLE.exec(line);
      if (!m) continue;
      const series = m[1]! + (m[2] ?? '');
      const value = Number(m[3]);
      if (!sums.has(series)) {
        order.push(series);
        perWorker.set(series, []);
      }
      sums.set(series, (sums.get(series) ?? 0) + (Number.isFinite(value) ? value : 0));
      const labels = m[2] ? `{worker="${name}",${m[2].slice(1)}` : `{worker="${name}"}`;
      perWorker.get(series)!.push(`${m[1]}${labels} ${m[3]}`);
    }
  }
  const lines = order.flatMap((s) => (s.startsWith('#') ? [s] : [`${s} ${sums.get(s)}`, ...perWorker.get(s)!]));
  return [...lines, ''].join('\n');
}

/**
 * Worker 0's handler for the node's admin address: `inner` is its own admin handler;
 * `refused` its gate (the Host check), run before the paths answered here — asked only
 * for those, since a peer's proof is accepted once.
 */
export function nodeAdminView(inner: Handler, refused: (req: IncomingMessage, res: ServerResponse) => boolean, workers: WorkerAdmin[], nodeId: string): Handler {
  const all = async (method: 'GET' | 'POST', path: string, authorization: string | undefined) =>
    Promise.all(
      workers.map(async (w) => {
        try {
          return { name: w.name, ...(await ask(w, method, path, authorization)) };
        } catch (err) {
          return { name: w.name, status: 502, text: JSON.stringify({ error: 'WORKER_UNREACHABLE', message: `worker ${w.name}: ${(err as Error).message}` }) };
        }
      }),
    );
  const fail = (res: ServerResponse, err: unknown) => json(res, 500, { error: 'INTERNAL', message: (err as Error).message });
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const here = (path === '/stats' || path === '/metrics') ? req.method === 'GET' : path === '/reload' && req.method === 'POST';
    if (here && refused(req, res)) return void req.resume();
    if (path === '/stats' && req.method === 'GET') {
      all('GET', '/stats', undefined).then((answers) => {
        const per: Record<string, unknown> = {};
        const figures: Record<string, unknown>[] = [];
        for (const a of answers) {
          try {
            const o = JSON.parse(a.text) as Record<string, unknown>;
            per[a.name] = o;
            if (a.status === 200) figures.push(o);
          } catch {
            per[a.name] = { error: 'UNREADABLE', status: a.status };
          }
        }
        const { descriptions, topMisses, peers, origin, ...counters } = (figures[0] ?? {}) as Record<string, unknown>;
        const summed = sumFigures(figures.map(({ descriptions: _d, topMisses: _t, peers: _p, origin: _o, node: _n, ...c }) => c));
        json(res, 200, { ...counters, ...summed, node: nodeId, workerCount: workers.length, workersAnswering: figures.length, origin, topMisses, workers: per, descriptions });
      }, (err: unknown) => fail(res, err));
      return;
    }
    if (path === '/metrics' && req.method === 'GET') {
      all('GET', '/metrics', undefined).then((answers) => {
        const text = combineMetrics(answers.filter((a) => a.status === 200));
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }, (err: unknown) => fail(res, err));
      return;
    }
    if (path === '/reload' && req.method === 'POST') {
      all('POST', '/reload', req.headers.authorization).then((answers) => {
        const workersOut: Record<string, unknown> = {};
        for (const a of answers) {
          try {
            workersOut[a.name] = { status: a.status, ...(JSON.parse(a.text) as Record<string, unknown>) };
          } catch {
            workersOut[a.name] = { status: a.status };
          }
        }
        json(res, Math.max(...answers.map((a) => a.status)), { workers: workersOut });
      }, (err: unknown) => fail(res, err));
      req.resume();
      return;
    }
    inner(req, res);
  };
}
