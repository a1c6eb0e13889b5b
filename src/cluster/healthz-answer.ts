// A peer's /healthz answer as a member probe reads it (membership.ts): who it is,
// when its process started, whether it is still starting, and what it says it owes
// the asking node (cluster.ts health writes these fields).

export type HealthzAnswer =
  | { ok: false; detail: string }
  | { ok: true; node: string; boot: string | undefined; owed: number | undefined; starting: boolean };

export function readHealthz(status: number, text: string): HealthzAnswer {
  if (status !== 200) return { ok: false, detail: `status ${status}` };
  let doc: { node?: unknown; boot?: unknown; owed?: unknown; starting?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return { ok: false, detail: 'healthz answer is not JSON' };
  }
  if (typeof doc.node !== 'string') return { ok: false, detail: 'healthz answer names no node' };
  return {
    ok: true,
    node: doc.node,
    boot: typeof doc.boot === 'string' ? doc.boot : undefined,
    owed: typeof doc.owed === 'number' ? doc.owed : undefined,
    starting: doc.starting === true,
  };
}
