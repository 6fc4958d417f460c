/** Values as a person reads them: percent, bytes in KiB/MiB/GiB, otherwise 3 significant digits. */

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const SI = ["", "k", "M", "G", "T", "P"];
const BYTES = new Set(["bytes", "byte", "b", "B"]);
const PERCENT = new Set(["percent", "%", "pct"]);
const UNIT_LABELS: Record<string, string> = { celsius: "°C", fahrenheit: "°F", seconds: "s" };

/** 3 significant digits, without exponent notation for everyday magnitudes. */
export function significant(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  if (abs === 0) return "0";
  if (abs >= 1e6) {
    const tier = Math.min(SI.length - 1, Math.floor(Math.log10(abs) / 3));
    return `${trim((value / 10 ** (tier * 3)).toPrecision(digits))} ${SI[tier]}`.trim();
  }
  if (abs >= 10 ** digits) return Math.round(value).toString();
  if (abs < 1e-4) return value.toExponential(digits - 1);
  return trim(value.toPrecision(digits));
}

function trim(text: string): string {
  return text.includes(".") && !text.includes("e") ? text.replace(/\.?0+$/, "") : text;
}

export function formatBytes(value: number): string {
  let scaled = value;
  let tier = 0;
  while (Math.abs(scaled) >= 1024 && tier < BYTE_UNITS.length - 1) {
    scaled /= 1024;
    tier++;
  }
  return `${tier === 0 ? Math.round(scaled).toString() : significant(scaled)} ${BYTE_UNITS[tier]}`;
}

export function formatValue(value: number | null | undefined, unit: string | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const u = unit?.trim() ?? "";
  if (PERCENT.has(u)) return `${significant(value)} %`;
  if (BYTES.has(u)) return formatBytes(value);
  const label = UNIT_LABELS[u] ?? u;
  const text = significant(value);
  return label ? `${text} ${label}` : text;
}

/** Axis ticks: same rules, shorter (no unit for plain numbers). */
export function formatTick(value: number, unit: string | null | undefined): string {
  const u = unit?.trim() ?? "";
  if (BYTES.has(u)) return formatBytes(value);
  if (PERCENT.has(u)) return `${significant(value)}%`;
  return significant(value);
}

/** Label of a bucket width, as the gateway writes it: raw, 5s, 1m, 2h, 1d. */
export function resolutionLabel(widthMs: number): string {
  if (widthMs <= 0) return "raw";
  const seconds = Math.round(widthMs / 1000);
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

let dateTimeFormat: Intl.DateTimeFormat | null = null;

export function formatDateTime(ms: number): string {
  dateTimeFormat ??= new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  return dateTimeFormat.format(ms);
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? formatDateTime(ms) : iso;
}
