/**
 * Every live series buffer of the tab, keyed "<source>:<name>".
 *
 * Merges mark a series dirty; listeners hear about it once per animation frame (coalesced),
 * and not at all while the page is hidden: the first frame after it becomes visible again
 * catches up. Listeners get the earliest time that changed, so a view holding its own copy
 * only needs to pull from there.
 */
import { SeriesBuffer, type PointBatch } from "./buffer";

export type SeriesListener = (key: string, changedFrom: number) => void;

export interface StoreOptions {
  /** Runs `flush` before the next paint (requestAnimationFrame in a browser). */
  schedule?: (flush: () => void) => void;
  /** Whether the page is hidden (document.hidden). */
  isHidden?: () => boolean;
  /** How far back a series is kept (ms); older points are trimmed. */
  retentionMs?: number;
  now?: () => number;
}

export const DEFAULT_RETENTION_MS = 65 * 60_000; // the longest live window (1 h) plus a margin

export function seriesKey(source: string, name: string): string {
  return `${source}:${name}`;
}

export function splitKey(key: string): { source: string; name: string } {
  const at = key.indexOf(":");
  return { source: key.slice(0, at), name: key.slice(at + 1) };
}

export class SeriesStore {
  private readonly buffers = new Map<string, SeriesBuffer>();
  private readonly units = new Map<string, string | null>();
  private readonly listeners = new Map<string, Set<SeriesListener>>();
  private readonly dirty = new Map<string, number>();
  private scheduled = false;
  private readonly schedule: (flush: () => void) => void;
  private readonly isHidden: () => boolean;
  private readonly now: () => number;
  readonly retentionMs: number;

  constructor(options: StoreOptions = {}) {
    this.schedule =
      options.schedule ??
      ((flush) => {
        if (typeof requestAnimationFrame === "function") requestAnimationFrame(flush);
        else setTimeout(flush, 16);
      });
    this.isHidden =
      options.isHidden ?? (() => typeof document !== "undefined" && document.hidden);
    this.now = options.now ?? Date.now;
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  }

  get(key: string): SeriesBuffer | undefined {
    return this.buffers.get(key);
  }

  ensure(key: string): SeriesBuffer {
    let buffer = this.buffers.get(key);
    if (!buffer) {
      buffer = new SeriesBuffer();
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  keys(): string[] {
    return [...this.buffers.keys()];
  }

  unit(key: string): string | null {
    return this.units.get(key) ?? null;
  }

  setUnit(key: string, unit: string | null | undefined): void {
    if (unit !== undefined && unit !== null && this.units.get(key) !== unit) {
      this.units.set(key, unit);
    }
  }

  merge(key: string, batch: PointBatch, widthMs: number): boolean {
    if (!batch.t.length) return false;
    const buffer = this.ensure(key);
    if (!buffer.merge(batch, widthMs)) return false;
    let earliest = Infinity;
    for (const time of batch.t) if (time < earliest) earliest = time;
    this.markDirty(key, earliest);
    return true;
  }

  /** Tells the series' listeners to look again (e.g. its subscription became live). */
  touch(key: string): void {
    this.markDirty(key, -Infinity);
  }

  listen(key: string, listener: SeriesListener): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size) this.listeners.delete(key);
    };
  }

  /** Delivers every pending change now (the scheduler calls it; so does becoming visible). */
  flush(): void {
    this.scheduled = false;
    if (!this.dirty.size) return;
    const changes = [...this.dirty];
    this.dirty.clear();
    const horizon = this.now() - this.retentionMs;
    for (const [key, changedFrom] of changes) {
      const buffer = this.buffers.get(key);
      // Trim in steps of a minute, not on every point.
      if (buffer && (buffer.firstTime() ?? Infinity) < horizon - 60_000) buffer.trimBefore(horizon);
      const set = this.listeners.get(key);
      if (!set) continue;
      for (const listener of [...set]) listener(key, changedFrom);
    }
  }

  /** Forgets every series (signed out). */
  clear(): void {
    for (const buffer of this.buffers.values()) buffer.clear();
    this.buffers.clear();
    this.units.clear();
    this.dirty.clear();
  }

  /** Call when the page becomes visible again. */
  resume(): void {
    if (this.dirty.size && !this.isHidden()) this.flush();
  }

  private markDirty(key: string, from: number): void {
    const was = this.dirty.get(key);
    this.dirty.set(key, was === undefined ? from : Math.min(was, from));
    if (this.scheduled || this.isHidden()) return;
    this.scheduled = true;
    this.schedule(() => {
      if (this.isHidden()) this.scheduled = false; // resume() catches up
      else this.flush();
    });
  }
}
