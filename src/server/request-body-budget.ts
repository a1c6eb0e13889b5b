// The node-wide share of request bodies (see ./request-body.ts): how many bytes
// all bodies being buffered or waiting for their origin answer hold in memory and
// in spool files at once, against limits.requestBodyMemoryBudgetBytes and
// limits.requestBodySpoolBudgetBytes. Per request the body limits still apply;
// this bounds the sum, which many clients (HTTP/2: many streams per connection)
// could otherwise push far past the memory and disk the node has.
//
// Reservations are made chunk by chunk before the bytes are kept, and released
// exactly once by their holder (./request-body.ts). The budgets are read at each
// reservation, so a reload applies at once; bytes already held stay held.

export interface BodyBudgetLimits {
  requestBodyMemoryBudgetBytes: number;
  requestBodySpoolBudgetBytes: number;
}

export interface RequestBodyFigures {
  /** Request body bytes held in memory now. */
  memoryBytes: number;
  memoryBudgetBytes: number;
  /** Request body bytes in spool files now. */
  spoolBytes: number;
  spoolBudgetBytes: number;
  /** Bodies spooled because the memory budget was full (they would have fit the per-request memory limit). */
  spooledForBudget: number;
  /** Bodies refused 503 because the spool budget was full. */
  refused: number;
}

export class RequestBodyBudget {
  private memory = 0;
  private spool = 0;
  private spooledForBudget = 0;
  private refused = 0;

  constructor(private readonly limits: () => BodyBudgetLimits) {}

  /** Take `bytes` of the memory budget; false (nothing taken) when they do not fit. */
  reserveMemory(bytes: number): boolean {
    if (this.memory + bytes > this.limits().requestBodyMemoryBudgetBytes) return false;
    this.memory += bytes;
    return true;
  }

  releaseMemory(bytes: number): void {
    this.memory -= bytes;
  }

  /** Take `bytes` of the spool budget; false (nothing taken) when they do not fit. */
  reserveSpool(bytes: number): boolean {
    if (this.spool + bytes > this.limits().requestBodySpoolBudgetBytes) return false;
    this.spool += bytes;
    return true;
  }

  releaseSpool(bytes: number): void {
    this.spool -= bytes;
  }

  noteSpooledForBudget(): void {
    this.spooledForBudget++;
  }

  noteRefused(): void {
    this.refused++;
  }

  figures(): RequestBodyFigures {
    const l = this.limits();
    return {
      memoryBytes: this.memory,
      memoryBudgetBytes: l.requestBodyMemoryBudgetBytes,
      spoolBytes: this.spool,
      spoolBudgetBytes: l.requestBodySpoolBudgetBytes,
      spooledForBudget: this.spooledForBudget,
      refused: this.refused,
    };
  }
}
