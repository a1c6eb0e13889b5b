// The peer proofs this node already accepted, so each is accepted once: a
// captured peer request sent again (peers speak plain HTTP) is refused as a
// replay. A proof is only acceptable while its time is within the allowed skew
// of now (peer-auth.ts MAX_SKEW_MS), so a signature need be remembered only
// until then: signatures are kept in buckets by their proof's time, and a
// bucket is dropped once every time in it has fallen out of the window.
//
// Bounded: only signatures that verified are recorded (a forger cannot make
// one), so its size is this node's own peer traffic over twice the window, at
// most 2 × window / bucket + 1 buckets.

export class SeenProofs {
  private readonly buckets = new Map<number, Set<string>>();

  /** `windowMs`: how far a proof's time may be from now; `bucketMs`: how finely memory is given back. */
  constructor(
    private readonly windowMs: number,
    private readonly bucketMs = 5_000,
  ) {}

  /** True the first time signature `sig` (of a proof made at `timeMs`) is offered; false for a replay. */
  firstUse(sig: string, timeMs: number, nowMs: number): boolean {
    if (this.has(sig, timeMs, nowMs)) return false;
    this.add(sig, timeMs);
    return true;
  }

  /** Was `sig` (of a proof made at `timeMs`) recorded? Nothing is recorded by asking. */
  has(sig: string, timeMs: number, nowMs: number): boolean {
    this.forgetBefore(nowMs - this.windowMs);
    return this.buckets.get(Math.floor(timeMs / this.bucketMs))?.has(sig) ?? false;
  }

  /** Record `sig`: offered again within the window, it is a replay. */
  add(sig: string, timeMs: number): void {
    const b = Math.floor(timeMs / this.bucketMs);
    let set = this.buckets.get(b);
    if (set === undefined) this.buckets.set(b, (set = new Set()));
    set.add(sig);
  }

  /** Signatures remembered (for /stats). */
  size(): number {
    let n = 0;
    for (const s of this.buckets.values()) n += s.size;
    return n;
  }

  /** Buckets whose every time is before `oldestMs`: no proof of theirs is acceptable any more. */
  private forgetBefore(oldestMs: number): void {
    for (const b of this.buckets.keys()) if ((b + 1) * this.bucketMs <= oldestMs) this.buckets.delete(b);
  }
}
