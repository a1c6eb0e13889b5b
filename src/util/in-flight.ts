// Work in progress that something must outlive: a generation's requests (node.ts
// closes the upstream pools a reload retired only once the older generations'
// requests are over, since a request keeps the pool it was routed to until it
// ends — waiting on forward-auth, a later slice, a revalidation it started).
//
// Invariant: idle() resolves once the count is 0, never before; end() without a
// begin() is ignored rather than going negative.

export class InFlight {
  private n = 0;
  private waiters: (() => void)[] = [];

  begin(): void {
    this.n++;
  }

  end(): void {
    if (this.n === 0) return;
    this.n--;
    if (this.n > 0 || this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Counted from begin() until `work` settles. */
  hold(work: Promise<unknown>): void {
    this.begin();
    const end = (): void => this.end();
    work.then(end, end);
  }

  get count(): number {
    return this.n;
  }

  /** Resolves when nothing is in flight (at once when nothing is). */
  idle(): Promise<void> {
    if (this.n === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
