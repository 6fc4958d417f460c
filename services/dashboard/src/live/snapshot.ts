/**
 * Survive a page reload: the live buffers (at most the last hour of each series) and the
 * last sequence of each channel go to sessionStorage on pagehide and every few seconds; on
 * load, a snapshot younger than `maxAgeMs` is put back and its channels resume from their
 * sequence instead of asking for history again.
 *
 * Compact encoding: per series, runs of equal bucket width with delta-encoded times; raw
 * runs carry only values (min = max = avg).
 */
import { SeriesBuffer } from "./buffer";
import type { ChannelSnapshot } from "./hub";
import type { SeriesStore } from "./store";

export const SNAPSHOT_KEY = "pulse.live.v1";
export const SNAPSHOT_WINDOW_MS = 60 * 60_000;
export const SNAPSHOT_MAX_AGE_MS = 10 * 60_000;

/** [widthMs, firstTime, time deltas, avg, min?, max?] */
export type EncodedRun = [number, number, number[], number[], number[]?, number[]?];

export interface Snapshot {
  v: 1;
  savedAt: number;
  series: Record<string, { unit: string | null; runs: EncodedRun[] }>;
  channels: Record<string, ChannelSnapshot>;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function encodeBuffer(buffer: SeriesBuffer, from: number): EncodedRun[] {
  const runs: EncodedRun[] = [];
  for (const run of buffer.runs(from, Infinity)) {
    const { t, avg, min, max } = run.batch;
    const deltas: number[] = [];
    for (let k = 1; k < t.length; k++) deltas.push(t[k]! - t[k - 1]!);
    const encoded: EncodedRun = [run.widthMs, t[0]!, deltas, [...avg]];
    if (run.widthMs > 0) encoded.push([...(min ?? avg)], [...(max ?? avg)]);
    runs.push(encoded);
  }
  return runs;
}

export function decodeRuns(runs: EncodedRun[]): SeriesBuffer {
  const buffer = new SeriesBuffer();
  for (const [width, first, deltas, avg, min, max] of runs) {
    const t = [first];
    for (const delta of deltas) t.push(t[t.length - 1]! + delta);
    buffer.merge({ t, avg, min: min ?? avg, max: max ?? avg }, width);
  }
  return buffer;
}

export function takeSnapshot(
  store: SeriesStore,
  channels: Record<string, ChannelSnapshot>,
  now: number,
  windowMs = SNAPSHOT_WINDOW_MS,
): Snapshot {
  const series: Snapshot["series"] = {};
  for (const key of store.keys()) {
    const buffer = store.get(key);
    if (!buffer || !buffer.length) continue;
    series[key] = { unit: store.unit(key), runs: encodeBuffer(buffer, now - windowMs) };
  }
  return { v: 1, savedAt: now, series, channels };
}

/** Writes the snapshot; if the storage is full, tries again with the last 15 minutes only. */
export function saveSnapshot(
  storage: StorageLike,
  store: SeriesStore,
  channels: Record<string, ChannelSnapshot>,
  now: number,
): boolean {
  for (const windowMs of [SNAPSHOT_WINDOW_MS, 15 * 60_000]) {
    try {
      storage.setItem(SNAPSHOT_KEY, JSON.stringify(takeSnapshot(store, channels, now, windowMs)));
      return true;
    } catch {
      // QuotaExceededError: try smaller
    }
  }
  try {
    storage.removeItem(SNAPSHOT_KEY);
  } catch {
    /* nothing to do */
  }
  return false;
}

export function loadSnapshot(
  storage: StorageLike,
  now: number,
  maxAgeMs = SNAPSHOT_MAX_AGE_MS,
): Snapshot | null {
  let raw: string | null;
  try {
    raw = storage.getItem(SNAPSHOT_KEY);
  } catch {
    return null;
  }
  if (!raw) return null;
  try {
    const snapshot = JSON.parse(raw) as Snapshot;
    if (snapshot.v !== 1 || typeof snapshot.savedAt !== "number") return null;
    if (now - snapshot.savedAt > maxAgeMs || snapshot.savedAt > now + 60_000) return null;
    return snapshot;
  } catch {
    return null;
  }
}

/** Puts the buffers back into the store; returns the channels to resume. */
export function applySnapshot(snapshot: Snapshot, store: SeriesStore): Record<string, ChannelSnapshot> {
  for (const [key, { unit, runs }] of Object.entries(snapshot.series)) {
    const restored = decodeRuns(runs);
    store.setUnit(key, unit);
    store.ensure(key).mergeFrom(restored, -Infinity, Infinity);
    store.touch(key);
  }
  return snapshot.channels;
}

export function clearSnapshot(storage: StorageLike): void {
  try {
    storage.removeItem(SNAPSHOT_KEY);
  } catch {
    /* nothing to do */
  }
}
