/**
 * The time range of a search: a preset (the last 15 min … 7 days, or any time) or "between"
 * two local date-times, either of which may be left open.
 */
import { useId } from "react";
import { RANGE_CHOICES, type RangeId, type TimeRange } from "./filters";

/** Epoch ms as a datetime-local input's value (local time, to the minute). */
export function toLocalInput(ms: number | null): string {
  if (ms === null) return "";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local input's value as epoch ms; null when empty or not a date. */
export function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

export function RangeFields({ range, onChange }: { range: TimeRange; onChange: (range: TimeRange) => void }) {
  const id = useId();
  const custom = range.id === "custom" ? range : null;
  const invalid = custom !== null && custom.from !== null && custom.to !== null && custom.from >= custom.to;
  return (
    <>
      <div className="field">
        <label htmlFor={`${id}-range`}>Time</label>
        <select
          id={`${id}-range`}
          value={range.id}
          onChange={(event) => {
            const next = event.target.value as RangeId;
            if (next === "custom") onChange({ id: "custom", from: Date.now() - 3_600_000, to: null });
            else onChange({ id: next });
          }}
        >
          {RANGE_CHOICES.map((choice) => (
            <option key={choice.id} value={choice.id}>
              {choice.label}
            </option>
          ))}
        </select>
      </div>
      {custom && (
        <>
          <div className="field">
            <label htmlFor={`${id}-from`}>From</label>
            <input
              id={`${id}-from`}
              type="datetime-local"
              value={toLocalInput(custom.from)}
              onChange={(event) => onChange({ ...custom, from: fromLocalInput(event.target.value) })}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-to`}>To</label>
            <input
              id={`${id}-to`}
              type="datetime-local"
              value={toLocalInput(custom.to)}
              aria-invalid={invalid || undefined}
              aria-describedby={invalid ? `${id}-to-error` : undefined}
              onChange={(event) => onChange({ ...custom, to: fromLocalInput(event.target.value) })}
            />
            {invalid && (
              <span id={`${id}-to-error`} className="field-error">
                After “From”.
              </span>
            )}
          </div>
        </>
      )}
    </>
  );
}
