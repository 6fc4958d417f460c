import { describe, expect, it } from "vitest";
import { confirmText, describeDecision, toggleSelection } from "./deadLetters";
import { MAX_IDS } from "./types";

describe("dead-letter decisions", () => {
  it("says what changed and what was skipped", () => {
    expect(describeDecision("replay", { type: "deadletters.changed", changed: [3, 4], skipped: [5] })).toBe(
      "Replayed 2 dead letters (#3, #4). Skipped 1 (#5): no longer pending, or not found.",
    );
    expect(describeDecision("discard", { type: "deadletters.changed", changed: [9], skipped: [] })).toBe(
      "Discarded 1 dead letter (#9).",
    );
    expect(describeDecision("replay", { type: "deadletters.changed", changed: [], skipped: [1, 2] })).toBe(
      "Replayed none. Skipped 2 (#1, #2): no longer pending, or not found.",
    );
  });

  it("lists at most 20 ids", () => {
    const many = Array.from({ length: 25 }, (_, i) => i + 1);
    expect(describeDecision("replay", { type: "deadletters.changed", changed: many, skipped: [] })).toMatch(
      /^Replayed 25 dead letters \(#1, #2, .*#20 and 5 more\)\.$/,
    );
  });

  it("asks before acting", () => {
    expect(confirmText("replay", 1)).toMatch(/^Publish the original bytes of 1 dead letter to their subjects again\?/);
    expect(confirmText("discard", 3)).toMatch(/^Discard 3 dead letters\?/);
  });

  it("selects and unselects, at most the API's limit", () => {
    let selected = toggleSelection(new Set(), [1, 2, 3], true);
    expect([...selected]).toEqual([1, 2, 3]);
    selected = toggleSelection(selected, [2], false);
    expect([...selected]).toEqual([1, 3]);
    const full = toggleSelection(new Set(), Array.from({ length: MAX_IDS + 10 }, (_, i) => i + 1), true);
    expect(full.size).toBe(MAX_IDS);
  });
});
