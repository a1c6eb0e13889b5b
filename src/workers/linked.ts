// Waiting for a worker's links to the other workers of its node.

/**
 * Resolves once this worker reaches every other worker over its links (their
 * /healthz answered), or after `maxMs`: before that, a key owned by a worker not
 * yet reached is fetched from the origin (a second fetch, never a wrong answer).
 */
export async function whenLinked(peers: () => { available: boolean }[] | undefined, maxMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    if ((peers() ?? []).every((p) => p.available)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}
