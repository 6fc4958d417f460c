import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const css = readFileSync(new URL("./styles.css", import.meta.url), "utf8");
const vars = Object.fromEntries([...css.matchAll(/--([a-z-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1]!, m[2]!]));

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) =>
    c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4,
  );
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

const color = (name: string): string => {
  const value = name.startsWith("#") ? name : vars[name];
  if (!value) throw new Error(`no colour ${name} in styles.css`);
  return value;
};

// [text, background] pairs the stylesheet uses.
const PAIRS: Array<[string, string]> = [
  ["text", "surface"],
  ["text", "bg"],
  ["muted", "surface"],
  ["muted", "bg"],
  ["accent", "surface"],
  ["accent", "bg"],
  ["#ffffff", "accent"],
  ["#ffffff", "accent-dark"],
  ["header-text", "header-bg"],
  ["header-muted", "header-bg"],
  ["ok-text", "ok-bg"],
  ["warn-text", "warn-bg"],
  ["bad-text", "bad-bg"],
  ["bad-text", "bad-stripe"], // heatmap: errored cells
  ["ok-text", "surface"], // live state, feed marks
  ["header-text", "header-bg"], // heatmap tooltip
  ["#ffffff", "danger"],
  ["text", "#eef1f5"], // table head, secret
  ["text", "#e8edf3"], // button hover
  ["text", "#f0f6fd"], // audit: a live-tail row
  ["accent", "bad-bg"], // audit: links in a failed step
  ["accent", "ok-bg"], // audit: links in a details row
];

describe("colour contrast", () => {
  it.each(PAIRS)("%s on %s is at least 4.5:1", (text, background) => {
    expect(contrast(color(text), color(background))).toBeGreaterThanOrEqual(4.5);
  });

  it("computes known ratios", () => {
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrast("#767676", "#ffffff")).toBeCloseTo(4.54, 2);
  });
});
