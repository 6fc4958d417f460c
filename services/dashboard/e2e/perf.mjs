// How much the dashboard costs the browser: `make bench ARGS=dashboard` (bench/dashboard.py) runs it
// against a real stack with ten series at 1 Hz.
//
// 1. First chart: the page is opened (reloaded, signed in) RELOADS times; each time the
//    `pulse:first-chart` performance mark gives the time from navigation to the first chart drawn.
// 2. Main thread: the overview (a live tile and sparkline per series) stays open for MINUTES;
//    every SAMPLE_S the Chrome DevTools Protocol's Performance.getMetrics gives TaskDuration (time
//    the renderer's main thread spent on tasks), so busy% = ΔTaskDuration / Δwall time.
// Progress lines on stdout; the last line is `RESULT {json}`.

import { launchChromium } from "./browser.mjs";

const url = process.env.PULSE_URL;
const minutes = Number(process.env.MINUTES ?? "10");
const sampleS = Number(process.env.SAMPLE_S ?? "60");
const reloads = Number(process.env.RELOADS ?? "5");
const expectedSeries = Number(process.env.SERIES ?? "10");

const browser = await launchChromium();
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  await page.getByLabel("Email").fill(process.env.PULSE_EMAIL);
  await page.getByLabel("Password").fill(process.env.PULSE_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForFunction(
    (count) => document.querySelectorAll('[data-testid="series-tile"]').length >= count,
    expectedSeries,
  );

  const firstChart = [];
  for (let i = 0; i < reloads; i++) {
    await page.reload();
    const mark = await page.waitForFunction(() => performance.getEntriesByName("pulse:first-chart")[0]?.startTime ?? null);
    firstChart.push(Math.round(await mark.jsonValue()));
    console.log(`  first chart after reload ${i + 1}/${reloads}: ${firstChart.at(-1)} ms`);
  }
  await page.waitForFunction(
    (count) => document.querySelectorAll('[data-testid="series-tile"]').length >= count,
    expectedSeries,
  );

  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable", { timeDomain: "timeTicks" });
  const metrics = async () => {
    const { metrics } = await cdp.send("Performance.getMetrics");
    return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
  };
  const start = await metrics();
  const started = Date.now();
  let previous = start;
  const samples = [];
  const until = started + minutes * 60_000;
  while (Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(sampleS * 1000, until - Date.now())));
    const now = await metrics();
    const wall = now.Timestamp - previous.Timestamp;
    const busy = (100 * (now.TaskDuration - previous.TaskDuration)) / wall;
    const tiles = await page.locator('[data-testid="series-tile"]').count();
    samples.push({ elapsed_s: Math.round((Date.now() - started) / 1000), busy_percent: +busy.toFixed(2), heap_mb: +(now.JSHeapUsedSize / 2 ** 20).toFixed(1), tiles });
    const s = samples.at(-1);
    console.log(`  ${(s.elapsed_s / 60).toFixed(1)} / ${minutes} min: main thread ${s.busy_percent}% busy, JS heap ${s.heap_mb} MB, ${tiles} tiles`);
    previous = now;
  }
  const end = await metrics();
  const total = (100 * (end.TaskDuration - start.TaskDuration)) / (end.Timestamp - start.Timestamp);
  const sorted = [...firstChart].sort((a, b) => a - b);
  console.log(
    "RESULT " +
      JSON.stringify({
        first_chart_ms: firstChart,
        first_chart_median_ms: sorted[Math.floor(sorted.length / 2)],
        minutes,
        main_thread_busy_percent: +total.toFixed(2),
        script_s: +(end.ScriptDuration - start.ScriptDuration).toFixed(2),
        layout_s: +(end.LayoutDuration - start.LayoutDuration).toFixed(2),
        recalc_style_s: +(end.RecalcStyleDuration - start.RecalcStyleDuration).toFixed(2),
        heap_mb_start: +(start.JSHeapUsedSize / 2 ** 20).toFixed(1),
        heap_mb_end: +(end.JSHeapUsedSize / 2 ** 20).toFixed(1),
        samples,
      }),
  );
} finally {
  await browser.close();
}
