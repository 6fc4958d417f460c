// What a newcomer sees after `make run`: `make bench ARGS=startup` (bench/startup.py) starts the
// platform as `make run` does and runs this as soon as it prints the URL and the admin's password.
//
// It opens PULSE_URL, signs in with PULSE_EMAIL / PULSE_PASSWORD, opens PULSE_SERIES (default
// sim:cpu) and waits for a live line: a drawn chart of at least two points whose newest point then
// advances. Progress lines on stdout; the last line is `RESULT {json}` with epoch milliseconds of
// each step, so the caller can measure them from its own start.

import { launchChromium } from "./browser.mjs";

const url = process.env.PULSE_URL;
const [source, name] = (process.env.PULSE_SERIES ?? "sim:cpu").split(":");
const at = {};
const mark = (step) => {
  at[step] = Date.now();
  console.log(`  browser: ${step}`);
};

/** The newest time (epoch ms) in the chart's data table, or 0 while it has none. */
const newestRow = () =>
  Math.max(0, ...[...document.querySelectorAll("details tr[data-time]")].map((row) => Number(row.getAttribute("data-time"))));

const browser = await launchChromium();
let exitCode = 0;
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.setDefaultTimeout(60_000);
  mark("browser ready");
  await page.goto(url);
  await page.getByLabel("Email").waitFor();
  mark("login page");
  await page.getByLabel("Email").fill(process.env.PULSE_EMAIL);
  await page.getByLabel("Password").fill(process.env.PULSE_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  const tile = page.locator(`[data-testid="series-tile"][data-series="${source}:${name}"]`);
  await tile.waitFor();
  mark("signed in");
  await tile.click();
  await page.getByText("Show data as a table").click();
  await page.waitForFunction(() => {
    const chart = document.querySelector('[data-testid="series-chart"]');
    return chart?.getAttribute("data-state") === "ready" && Number(chart.getAttribute("data-points")) >= 2;
  });
  mark("chart drawn");
  const newest = await page.evaluate(newestRow);
  await page.waitForFunction((after) => {
    const rows = [...document.querySelectorAll("details tr[data-time]")];
    return rows.some((row) => Number(row.getAttribute("data-time")) > after);
  }, newest);
  mark("live point");
  const points = Number(await page.getByTestId("series-chart").getAttribute("data-points"));
  console.log(`RESULT ${JSON.stringify({ ...at, points })}`);
} catch (error) {
  console.log(`failed: ${error.message}`);
  exitCode = 1;
} finally {
  await browser.close();
}
process.exit(exitCode);
