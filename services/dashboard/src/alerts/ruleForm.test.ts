import { describe, expect, it } from "vitest";
import type { Rule } from "../notifications/types";
import { conditionOf, describeCondition, emptyForm, formFromRule, validateRule, type RuleForm } from "./ruleForm";

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

  it("refuses fractions where counts are wanted, and bad ids", () => {
    expect(conditionOf(form({ type: "no_data", metric: "cpu", for_s: "1.5" })).errors.for_s).toBe("Duration must be a whole number.");
    expect(conditionOf(form({ type: "cell_errors", class_id: "Py 101", errors: "0" })).errors).toEqual({
      class_id: "A class id has a-z, 0-9 and “-” only.",
      errors: "Number of errors must be at least 1.",
    });
    expect(conditionOf(form({ type: "student_idle", class_id: "py101", minutes: "0" })).errors.minutes).toBe("Minutes must be more than 0.");
    expect(conditionOf(form({ metric: "cpu load", value: "1" })).errors.metric).toMatch(/letters, digits/);
  });

  it("checks only the fields of the chosen condition", () => {
    const { condition, errors } = conditionOf(form({ type: "class_behind", class_id: "py101", cells: "4", value: "" }));
    expect(errors).toEqual({});
    expect(condition).toEqual({ type: "class_behind", class_id: "py101", cells: 4 });
  });

  it("round-trips a stored rule through the form", () => {
    const rule: Rule = {
      id: 7,
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

  it("describes conditions in words", () => {
    expect(describeCondition({ type: "threshold", metric: "cpu", op: "above", value: 90, for_s: 120 })).toBe("cpu (any source) above 90 for 2 min");
    expect(describeCondition({ type: "no_data", metric: "cpu", source: "h1", for_s: 45 })).toBe("no data from cpu on h1 for 45 s");
  });
});
