import { describe, expect, it } from "vitest";
import type { Rule } from "../notifications/types";
import { conditionOf, conditionTypesFor, describeCondition, emptyForm, formFromRule, sortFirings, validateRule, type RuleForm } from "./ruleForm";

const form = (fields: Partial<RuleForm>): RuleForm => ({ ...emptyForm(), name: "cpu high", roles: ["admin"], ...fields });

describe("the rule form", () => {
  it("turns a threshold rule into the API's body", () => {
    const { body, errors } = validateRule(form({ metric: "cpu", value: "90", for_s: "120", source: " " }));
    expect(errors).toEqual({});
    expect(body).toEqual({
      name: "cpu high",
      condition: { type: "threshold", metric: "cpu", source: null, op: "above", value: 90, for_s: 120 },
      severity: "warning",
      recipients: { roles: ["admin"] },
      enabled: true,
    });
  });

  it("names every field in error", () => {
    const { body, errors } = validateRule({ ...emptyForm(), value: "lots", for_s: "-5" });
    expect(body).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(["for_s", "metric", "name", "recipients", "value"]);
    expect(errors.for_s).toBe("Duration cannot be negative.");
    expect(errors.value).toBe("Value must be a number.");
  });

  it("refuses fractions where counts are wanted, bad names and the contract's out-of-bounds values", () => {
    expect(conditionOf(form({ type: "no_data", metric: "cpu", for_s: "0" })).errors.for_s).toBe("Duration must be more than 0.");
    expect(conditionOf(form({ metric: "cpu", value: "1", for_s: "1.5" })).errors).toEqual({});
    expect(conditionOf(form({ metric: "cpu", value: "1", for_s: String(7 * 24 * 3600 + 1) })).errors.for_s).toBe("Duration must be at most 604800.");
    expect(conditionOf(form({ type: "cell_errors", class_id: "Py 101", errors: "0" })).errors).toEqual({
      class_id: "A class id has a-z, 0-9 and “-” only.",
      errors: "Number of errors must be at least 1.",
    });
    expect(conditionOf(form({ type: "student_idle", class_id: "py101", minutes: "0" })).errors.minutes).toBe("Minutes must be more than 0.");
    expect(conditionOf(form({ metric: "cpu load", value: "1" })).errors.metric).toMatch(/letters, digits/);
    // A metric and a source become NATS subject tokens: no dots.
    expect(conditionOf(form({ metric: "cpu.user", source: "host.1", value: "1" })).errors).toEqual({
      metric: "A metric name has letters, digits, _ and - only (at most 64).",
      source: "A source name has letters, digits, _ and - only (at most 64).",
    });
    expect(conditionOf(form({ type: "class_behind", class_id: "py101", cells: "3", plan_minutes: "0" })).errors.plan_minutes).toBe(
      "Plan's minutes must be more than 0.",
    );
  });

  it("checks only the fields of the chosen condition", () => {
    const { condition, errors } = conditionOf(form({ type: "class_behind", class_id: "py101", cells: "4", value: "" }));
    expect(errors).toEqual({});
    expect(condition).toEqual({ type: "class_behind", class_id: "py101", cells: 4, plan_minutes: 60 });
  });

  it("sends to everyone alone when everyone is chosen", () => {
    const { body } = validateRule(form({ metric: "cpu", value: "90", everyone: true, users: ["u1"] }));
    expect(body?.recipients).toEqual({ everyone: true });
    expect(validateRule(form({ metric: "cpu", value: "90", roles: [] })).errors.recipients).toBe("Choose who gets its notifications.");
  });

  it("offers instructors the class conditions only, and starts them on one", () => {
    expect(conditionTypesFor(false).map((t) => t.type)).toEqual(["cell_errors", "student_idle", "class_behind"]);
    expect(conditionTypesFor(true)).toHaveLength(6);
    expect(emptyForm(false).type).toBe("cell_errors");
  });

  it("round-trips a stored rule through the form", () => {
    const rule: Rule = {
      id: "0b5c2d4e-7f00-4a1b-9c3d-2e8f6a1b0c9d",
      name: "fast cpu",
      condition: { type: "rate", metric: "cpu", source: "host-1", op: "above", per_s: 2.5, for_s: 30 },
      severity: "error",
      recipients: { users: ["u1"] },
      enabled: false,
      owner_id: "u0",
      created_at: "2026-01-01T00:00:00Z",
      updated_at: "2026-01-01T00:00:00Z",
    };
    const { id: _id, owner_id: _owner, created_at: _c, updated_at: _u, ...body } = rule;
    expect(validateRule(formFromRule(rule)).body).toEqual(body);
  });

  it("fills the contract's defaults of a stored rule's condition", () => {
    const base = { id: "r1", name: "n", severity: "info", recipients: { everyone: true }, enabled: true, owner_id: "u0", created_at: "", updated_at: "" } as const;
    const threshold = formFromRule({ ...base, condition: { type: "threshold", metric: "cpu", value: 90 } });
    expect([threshold.op, threshold.for_s, threshold.everyone]).toEqual(["above", "0", true]);
    expect(formFromRule({ ...base, condition: { type: "class_behind", class_id: "py101", cells: 2 } }).plan_minutes).toBe("60");
    expect(validateRule(formFromRule({ ...base, condition: { type: "class_behind", class_id: "py101", cells: 2, plan_minutes: 90 } })).body?.condition).toEqual({
      type: "class_behind",
      class_id: "py101",
      cells: 2,
      plan_minutes: 90,
    });
  });

  it("describes conditions in words", () => {
    expect(describeCondition({ type: "threshold", metric: "cpu", op: "above", value: 90, for_s: 120 })).toBe("cpu (any source) above 90 for 2 min");
    expect(describeCondition({ type: "no_data", metric: "cpu", source: "h1", for_s: 45 })).toBe("no data from cpu on h1 for 45 s");
    expect(describeCondition({ type: "threshold", metric: "cpu", value: 90 })).toBe("cpu (any source) above 90");
    expect(describeCondition({ type: "class_behind", class_id: "py101", cells: 3 })).toBe("py101's median student 3 cells behind a 60-min plan");
  });

  it("lists a rule's firing series before its pending ones", () => {
    const at = "2026-01-01T00:00:00Z";
    const firings = sortFirings([
      { series: "a:cpu", state: "pending", since: at, value: 95, fired_at: null },
      { series: "c:cpu", state: "firing", since: at, value: 97, fired_at: at },
      { series: "b:cpu", state: "firing", since: at, value: 99, fired_at: at },
    ]);
    expect(firings.map((f) => f.series)).toEqual(["b:cpu", "c:cpu", "a:cpu"]);
  });
});
