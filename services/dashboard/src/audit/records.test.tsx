import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { describeBody, formatDuration, statusTone } from "./records";
import { AccessDetails, Body } from "./RecordParts";
import { storedRow } from "./tail";
import { storedAccess } from "../test/auditData";

describe("stored bodies", () => {
  it("reads the recorder's markers, pretty-prints JSON", () => {
    expect(describeBody(null)).toEqual({ kind: "none" });
    expect(describeBody(undefined)).toEqual({ kind: "none" });
    expect(describeBody({ $text: "plain words" })).toEqual({ kind: "text", text: "plain words" });
    expect(describeBody({ $truncated: { bytes: 2_000_000, preview: '{"rows": [' } })).toEqual({
      kind: "truncated",
      bytes: 2_000_000,
      text: '{"rows": [',
    });
    expect(describeBody({ $binary: { bytes: 12, content_type: "image/png" } })).toEqual({
      kind: "binary",
      bytes: 12,
      contentType: "image/png",
    });
    expect(describeBody({ a: [1, "two"] })).toEqual({ kind: "json", text: '{\n  "a": [\n    1,\n    "two"\n  ]\n}' });
    // A body that merely has a marker's name among other keys is the JSON sent.
    expect(describeBody({ $text: "x", other: 1 }).kind).toBe("json");
    expect(describeBody("a string").kind).toBe("json");
    expect(describeBody(0)).toEqual({ kind: "json", text: "0" });
  });

  it("is shown as text, never as markup", () => {
    const attack = '<img src=x onerror="alert(1)">';
    for (const value of [{ $text: attack }, { message: attack }, { $truncated: { bytes: 9e6, preview: attack } }]) {
      const html = renderToStaticMarkup(<Body value={value} label="Request body" />);
      expect(html).not.toContain("<img");
      expect(html).toContain("&lt;img src=x onerror=");
    }
  });

  it("shows a request's redacted headers and its bodies", () => {
    const row = storedRow(
      storedAccess({ request_header: { authorization: "[redacted]", "user-agent": "<b>bold</b>" }, response_body: { code: "bad_row" } }),
    );
    const html = renderToStaticMarkup(<AccessDetails row={row} />);
    expect(html).toContain("[redacted]");
    expect(html).toContain("&lt;b&gt;bold&lt;/b&gt;");
    expect(html).toContain("&quot;code&quot;: &quot;bad_row&quot;");
    expect(html).toContain(`href="#/traces/${row.record.trace_id}"`);
  });
});

describe("statuses and durations", () => {
  it.each([
    [200, "ok"],
    [304, "redirect"],
    [404, "client"],
    [503, "server"],
    [101, "other"],
  ] as const)("%s is %s", (status, tone) => {
    expect(statusTone(status)).toBe(tone);
  });

  it.each([
    [0.42, "0.42 ms"],
    [4.26, "4.3 ms"],
    [12.5, "13 ms"],
    [1250, "1.25 s"],
    [15_000, "15.0 s"],
    [184_000, "3 min 4 s"],
    [7_200_000, "2 h"],
    [-1, "—"],
  ])("%s ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
