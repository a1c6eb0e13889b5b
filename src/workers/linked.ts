// Waiting for a worker's links to the other workers of its node.

/**
 * Resolves once this worker reaches every other worker over its links (their
 * /healthz answered) and none of them owes it a purge any more (`owesUs`: the
 * purges accepted while this worker was down, delivered as soon as it asks:
 * cluster.ts health), or after `maxMs`. Before that, a key owned by a worker not
 * yet reached is fetched from the origin (a second fetch, never a wrong answer),
 * and what this worker's disk holds may still include what was purged: it does
 * not take clients.
 */
export async function whenLinked(peers: () => { available: boolean; owesUs?: number | undefined }[] | undefined, maxMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    if ((peers() ?? []).every((p) => p.available && !p.owesUs)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}
