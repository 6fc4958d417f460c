/** Exponential backoff with full jitter: a delay drawn uniformly from [0, min(cap, base·factorⁿ)). */
export interface BackoffOptions {
  baseMs?: number;
  factor?: number;
  capMs?: number;
  random?: () => number;
}

export class Backoff {
  readonly baseMs: number;
  readonly factor: number;
  readonly capMs: number;
  private readonly random: () => number;
  /** Failed attempts since the last reset. */
  attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 500;
    this.factor = options.factor ?? 2;
    this.capMs = options.capMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** The upper bound of the delay for attempt `n` (0-based). */
  ceiling(n: number): number {
    return Math.min(this.capMs, this.baseMs * this.factor ** n);
  }

  /** The next delay; each call counts one more attempt. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling(this.attempt));
    this.attempt++;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
