import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { executed, overview } from "../test/classroomData";
import { Heatmap, HeatmapLegend } from "./HeatmapGrid";
import { applyEvents, EMPTY_HEATMAP, fromOverview } from "./heatmap";

const render = (selected: string | null = null): string => {
  const state = applyEvents(fromOverview(overview(), 4), [executed("bob", 1, 60, "NameError")]);
  return renderToStaticMarkup(
    <>
      <h2 id="h">Students × cells</h2>
      <HeatmapLegend />
      <Heatmap state={state} selected={selected} onSelect={() => undefined} labelledBy="h" />
    </>,
  );
};

const all = (html: string, pattern: RegExp): string[] => [...html.matchAll(pattern)].map((m) => m[0]);

describe("the heatmap's markup", () => {
  it("is a labelled grid with column and row headers", () => {
    const html = render();
    expect(html).toMatch(/<table role="grid" class="heatmap" aria-labelledby="h" aria-describedby="heatmap-legend" aria-rowcount="3" aria-colcount="5"/);
    expect(html).toContain('id="heatmap-legend"');
    expect(all(html, /<th scope="col"/g)).toHaveLength(5); // Student + 4 cells
    expect(all(html, /<th scope="row"/g)).toHaveLength(2);
    expect(html).toContain('<span class="visually-hidden">Cell </span>3</th>');
  });

  it("says every cell's state in words and with a symbol, not by colour alone", () => {
    const html = render();
    const cells = all(html, /<td role="gridcell"[^>]*>.*?<\/td>/g);
    expect(cells).toHaveLength(8);
    for (const cell of cells) {
      expect(cell).toMatch(/aria-label="[^"]+, cell \d: (ran|errored( \([A-Za-z]+\))?|not reached)"/);
      expect(cell).toMatch(/data-tip="[^"]+"/);
      expect(cell).toMatch(/<span aria-hidden="true">[✓✗·]<\/span>/);
    }
    expect(html).toContain('aria-label="bob, cell 2: errored (NameError)"');
    expect(html).toMatch(/class="hm hm--errored" data-state="errored"[^>]*><span aria-hidden="true">✗/);
    expect(html).toMatch(/aria-label="ada, cell 4: not reached"[^>]*><span aria-hidden="true">·/);
  });

  it("puts exactly one element in the tab order, and marks the selected student", () => {
    const html = render("bob");
    expect(all(html, /tabindex="0"/g)).toHaveLength(1);
    expect(html).toMatch(/<button type="button" class="heatmap-name" tabindex="0" data-r="0" data-c="-1"/);
    expect(all(html, /tabindex="-1"/g)).toHaveLength(9); // 8 cells + the other student's button
    expect(html).toMatch(/<tr aria-rowindex="3" data-student="bob" aria-selected="true">/);
    expect(html).toMatch(/aria-label="bob: 2 of 4 cells reached, 1 error, last active [^"]+\. Show the timeline"/);
  });

  it("says so when nobody has run a cell yet", () => {
    const html = renderToStaticMarkup(<Heatmap state={EMPTY_HEATMAP} selected={null} onSelect={() => undefined} labelledBy="h" />);
    expect(html).toContain("No student has run a cell of this notebook yet");
    expect(html).not.toContain("<table");
  });
});
