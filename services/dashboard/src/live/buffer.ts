/**
 * One series' points, sorted by time, without duplicates.
 *
 * Every point has a time (epoch ms), avg, min and max, and the width of the bucket it stands
 * for in ms (0 for a point as measured: min = max = avg). Merging is idempotent: history that
 * overlaps live points, the same point twice and out-of-order arrivals give one sorted series.
 * Finer data wins over coarser data for the same span, whichever arrives first.
 */

export interface PointBatch {
  /** Epoch milliseconds. Need not be sorted; equal times keep the last. */
  t: readonly number[];
  avg: readonly number[];
  /** Defaults to avg (raw points). */
  min?: readonly number[];
  max?: readonly number[];
}

export class SeriesBuffer {
  t: number[] = [];
  avg: number[] = [];
  min: number[] = [];
  max: number[] = [];
  /** Bucket width in ms; 0 = a raw point. */
  w: number[] = [];
  /** Bumped on every change, so views can tell whether to redraw. */
  version = 0;

  get length(): number {
    return this.t.length;
  }

  lastTime(): number | null {
    return this.t.length ? this.t[this.t.length - 1]! : null;
  }

  firstTime(): number | null {
    return this.t.length ? this.t[0]! : null;
  }

  latest(): { time: number; value: number } | null {
    const i = this.t.length - 1;
    return i >= 0 ? { time: this.t[i]!, value: this.avg[i]! } : null;
  }

  /** Index of the first point at or after `time`. */
  lowerBound(time: number): number {
    let lo = 0;
    let hi = this.t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.t[mid]! < time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first point after `time`. */
  upperBound(time: number): number {
    let lo = 0;
    let hi = this.t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.t[mid]! <= time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Merges points that all have the bucket width `widthMs` (0: raw). Returns whether
   * anything changed.
   *
   * - Equal times: the incoming point replaces the held one, unless the held one is finer.
   * - Held points coarser than the batch whose start lies in the batch's span are dropped
   *   (the finer data replaces them).
   * - An incoming bucket is dropped when finer points are held from (about) its start: at
   *   least one in the first half of its span. Raw points are never erased by buckets.
   */
  merge(batch: PointBatch, widthMs: number): boolean {
    const incoming = normalise(batch);
    const m = incoming.t.length;
    if (m === 0) return false;
    const n = this.t.length;
    const first = incoming.t[0]!;
    if (n === 0 || first > this.t[n - 1]!) {
      // The common live case: every point is newer than what is held.
      for (let i = 0; i < m; i++) {
        this.t.push(incoming.t[i]!);
        this.avg.push(incoming.avg[i]!);
        this.min.push(incoming.min[i]!);
        this.max.push(incoming.max[i]!);
        this.w.push(widthMs);
      }
      this.version++;
      return true;
    }

    const lastIn = incoming.t[m - 1]!;
    const spanEnd = widthMs > 0 ? lastIn + widthMs : lastIn;
    const inSpan = (time: number): boolean =>
      widthMs > 0 ? time >= first && time < spanEnd : time >= first && time <= spanEnd;

    // Incoming buckets that finer held data already covers from their start.
    const keepIn = new Array<boolean>(m).fill(true);
    if (widthMs > 0) {
      for (let i = 0; i < m; i++) {
        const start = incoming.t[i]!;
        const half = start + widthMs / 2;
        for (let j = this.lowerBound(start); j < n && this.t[j]! < half; j++) {
          if (this.w[j]! < widthMs) {
            keepIn[i] = false;
            break;
          }
        }
      }
    }

    const out = new SeriesBuffer();
    let i = 0; // incoming
    let j = 0; // held
    let changed = false;
    const pushHeld = (k: number): void => {
      out.t.push(this.t[k]!);
      out.avg.push(this.avg[k]!);
      out.min.push(this.min[k]!);
      out.max.push(this.max[k]!);
      out.w.push(this.w[k]!);
    };
    const pushIn = (k: number): void => {
      out.t.push(incoming.t[k]!);
      out.avg.push(incoming.avg[k]!);
      out.min.push(incoming.min[k]!);
      out.max.push(incoming.max[k]!);
      out.w.push(widthMs);
    };
    while (i < m || j < n) {
      if (i < m && !keepIn[i]) {
        i++;
        continue;
      }
      if (j < n && this.w[j]! > widthMs && inSpan(this.t[j]!)) {
        j++; // coarser data replaced by this batch
        changed = true;
        continue;
      }
      if (j >= n || (i < m && incoming.t[i]! < this.t[j]!)) {
        pushIn(i++);
        changed = true;
      } else if (i >= m || this.t[j]! < incoming.t[i]!) {
        pushHeld(j++);
      } else {
        // Same time.
        if (this.w[j]! < widthMs) {
          pushHeld(j);
        } else {
          if (
            this.avg[j] !== incoming.avg[i] ||
            this.min[j] !== incoming.min[i] ||
            this.max[j] !== incoming.max[i] ||
            this.w[j] !== widthMs
          ) {
            changed = true;
          }
          pushIn(i);
        }
        i++;
        j++;
      }
    }
    if (!changed) return false;
    this.t = out.t;
    this.avg = out.avg;
    this.min = out.min;
    this.max = out.max;
    this.w = out.w;
    this.version++;
    return true;
  }

  /** Drops every point before `time`; returns how many. */
  trimBefore(time: number): number {
    const k = this.lowerBound(time);
    if (k === 0) return 0;
    this.t.splice(0, k);
    this.avg.splice(0, k);
    this.min.splice(0, k);
    this.max.splice(0, k);
    this.w.splice(0, k);
    this.version++;
    return k;
  }

  clear(): void {
    if (!this.t.length) return;
    this.t = [];
    this.avg = [];
    this.min = [];
    this.max = [];
    this.w = [];
    this.version++;
  }

  /**
   * The points in [from, to], grouped into runs of equal width (what `merge` takes), e.g.
   * to copy a span of one buffer into another.
   */
  runs(from: number, to: number): Array<{ widthMs: number; batch: PointBatch }> {
    const a = this.lowerBound(from);
    const b = this.upperBound(to);
    const result: Array<{ widthMs: number; batch: PointBatch }> = [];
    let k = a;
    while (k < b) {
      const width = this.w[k]!;
      let e = k + 1;
      while (e < b && this.w[e] === width) e++;
      result.push({
        widthMs: width,
        batch: {
          t: this.t.slice(k, e),
          avg: this.avg.slice(k, e),
          min: this.min.slice(k, e),
          max: this.max.slice(k, e),
        },
      });
      k = e;
    }
    return result;
  }

  /** Copies [from, to] of `other` into this buffer (idempotent). */
  mergeFrom(other: SeriesBuffer, from: number, to: number): boolean {
    let changed = false;
    for (const run of other.runs(from, to)) {
      changed = this.merge(run.batch, run.widthMs) || changed;
    }
    return changed;
  }

  /** The widest bucket width among the points in [from, to]; 0 when all are raw. */
  coarsestWidth(from: number, to: number): number {
    let widest = 0;
    for (let k = this.lowerBound(from), b = this.upperBound(to); k < b; k++) {
      if (this.w[k]! > widest) widest = this.w[k]!;
    }
    return widest;
  }
}

interface Normalised {
  t: number[];
  avg: number[];
  min: number[];
  max: number[];
}

/** Sorted by time, one point per time (the last given wins), non-finite values dropped. */
function normalise(batch: PointBatch): Normalised {
  const n = batch.t.length;
  const minOf = batch.min ?? batch.avg;
  const maxOf = batch.max ?? batch.avg;
  let sorted = true;
  for (let k = 1; k < n; k++) {
    if (!(batch.t[k - 1]! < batch.t[k]!)) {
      sorted = false;
      break;
    }
  }
  const out: Normalised = { t: [], avg: [], min: [], max: [] };
  const order = sorted ? null : stableOrder(batch.t);
  for (let q = 0; q < n; q++) {
    const k = order ? order[q]! : q;
    const time = batch.t[k]!;
    const avg = batch.avg[k]!;
    if (!Number.isFinite(time) || !Number.isFinite(avg)) continue;
    const last = out.t.length - 1;
    const lo = Number.isFinite(minOf[k]) ? minOf[k]! : avg;
    const hi = Number.isFinite(maxOf[k]) ? maxOf[k]! : avg;
    if (last >= 0 && out.t[last] === time) {
      out.avg[last] = avg;
      out.min[last] = lo;
      out.max[last] = hi;
    } else {
      out.t.push(time);
      out.avg.push(avg);
      out.min.push(lo);
      out.max.push(hi);
    }
  }
  return out;
}

function stableOrder(times: readonly number[]): number[] {
  const order = times.map((_, k) => k);
  order.sort((a, b) => times[a]! - times[b]! || a - b);
  return order;
}
