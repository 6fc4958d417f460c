/** Epoch ms of an ISO 8601 time; the gateway sends microseconds, which Date.parse may refuse. */
export function parseTime(iso: string): number {
  const direct = Date.parse(iso);
  if (Number.isFinite(direct)) return direct;
  const trimmed = iso.replace(/(\.\d{3})\d+/, "$1");
  return Date.parse(trimmed);
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
