// End-to-end walk through the dashboard in Debian's Chromium (playwright-core, no bundled browser).
//
// Driven by tests/e2e/test_dashboard_browser.py, which starts a real stack and passes:
//   PULSE_URL, PULSE_EMAIL, PULSE_PASSWORD   where and who
//   PULSE_SERIES                             "<source>:<name>" of a 1 Hz series with 15 min of history
//   PULSE_SCREENSHOT                         where to save the screenshot
//   CHROMIUM                                 the browser (default /usr/bin/chromium)
// It asks the test to restart the gateway by printing "PULSE:restart-gateway" and waits for a
// "PULSE:restarted" line on stdin. Progress goes to stdout; any failure exits 1 with the reason.

import { createInterface } from "node:readline";
import { launchChromium } from "./browser.mjs";

const url = process.env.PULSE_URL;
const email = process.env.PULSE_EMAIL;
const password = process.env.PULSE_PASSWORD;
const series = process.env.PULSE_SERIES ?? "sim:cpu";
const screenshot = process.env.PULSE_SCREENSHOT;
const [source, name] = series.split(":");
let currentStep = "start";
const step = (text) => {
  currentStep = text;
  console.log(`step: ${text}`);
};

const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));

function fail(message) {
  throw new Error(message);
}

/** Times (epoch ms) of the data table's rows, oldest first. */
async function tableTimes(page) {
  const times = await page
    .locator('details tr[data-time]')
    .evaluateAll((rows) => rows.map((row) => Number(row.getAttribute("data-time"))));
  return times.sort((a, b) => a - b);
}

/** Unfolds the chart's data table and waits for its rows (they render on the toggle event). */
async function openTable(page) {
  const details = page.locator("details", { hasText: "Show data as a table" });
  if (!(await details.evaluate((element) => element.open))) await page.getByText("Show data as a table").click();
  await page.locator("details tr[data-time]").first().waitFor();
}

/** The largest step between consecutive times, where it is, and any time that appears twice. */
function continuity(times) {
  let widest = 0;
  let at = null;
  const doubled = [];
  for (let i = 1; i < times.length; i++) {
    if (times[i] - times[i - 1] > widest) {
      widest = times[i] - times[i - 1];
      at = new Date(times[i - 1]).toISOString();
    }
    if (times[i] === times[i - 1]) doubled.push(times[i]);
  }
  return { widest, at, doubled };
}

async function chartPoints(page) {
  return Number(await page.getByTestId("series-chart").getAttribute("data-points"));
}

const browser = await launchChromium();
const problems = [];
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // Console errors are reported, not failed on: a browser logs every refused connection
  // while the gateway restarts.
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`console error: ${message.text()}`);
  });

  step("log in as admin");
  await page.goto(url);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  const tile = page.locator(`[data-testid="series-tile"][data-series="${series}"]`);
  await tile.waitFor();
  await page.getByTestId("connection").and(page.locator('[data-state="open"]')).waitFor();

  step("reload: the session survives and the first chart is drawn");
  await page.reload();
  await tile.waitFor();
  const firstChart = await page.waitForFunction(() => {
    const mark = performance.getEntriesByName("pulse:first-chart")[0];
    return mark ? mark.startTime : null;
  });
  console.log(`figure: first chart drawn ${Math.round(await firstChart.jsonValue())} ms after navigation`);

  if (screenshot) await page.screenshot({ path: screenshot.replace(/\.png$/, "-overview.png") });

  step(`open ${series}: the chart updates live`);
  await tile.click();
  await page.getByRole("heading", { name: new RegExp(`${name}.*${source}`) }).waitFor();
  const chart = page.getByTestId("series-chart");
  await chart.and(page.locator('[data-state="ready"]')).waitFor();
  // The table (the chart's text alternative) lists the newest points: a newer one arrives.
  await openTable(page);
  const newest = (await tableTimes(page)).at(-1) ?? 0;
  await page.waitForFunction(
    (after) => [...document.querySelectorAll("details tr[data-time]")].some((row) => Number(row.getAttribute("data-time")) > after),
    newest,
  );
  console.log(`figure: live 5 min chart of ${await chartPoints(page)} points, newest point advancing`);

  step("choose the last 15 minutes: history appears");
  await page.getByRole("button", { name: "15 min" }).click();
  await page.waitForFunction(
    () => {
      const chart = document.querySelector('[data-testid="series-chart"]');
      return chart?.getAttribute("data-state") === "ready" && Number(chart.getAttribute("data-points")) >= 800;
    },
    null,
    { timeout: 30_000 },
  );
  console.log(`figure: 15 min chart holds ${await chartPoints(page)} points`);
  const beforeRestart = await tableTimes(page);
  if (beforeRestart.length < 60) fail(`the data table shows ${beforeRestart.length} rows`);
  const lastBefore = beforeRestart.at(-1);

  step("restart the gateway");
  const restarted = nextLine();
  console.log("PULSE:restart-gateway");
  // While it is down (the test keeps it down a few seconds), the indicator says so.
  await page.locator('[data-testid="connection"]:not([data-state="open"])').waitFor();
  console.log(`figure: indicator while the gateway is down: ${await page.getByTestId("connection").innerText()}`);
  const answer = await restarted;
  if (answer !== "PULSE:restarted") fail(`unexpected answer from the test: ${answer}`);
  await page.getByTestId("connection").and(page.locator('[data-state="open"]')).waitFor({ timeout: 60_000 });
  // Wait until points measured well after the restart have arrived.
  await page.waitForFunction(
    (after) => {
      const rows = [...document.querySelectorAll('details tr[data-time]')];
      return rows.some((row) => Number(row.getAttribute("data-time")) > after);
    },
    Date.now() + 3_000,
    { timeout: 30_000 },
  );
  // Every point from the last one seen before the restart to the newest: one a second.
  const afterRestart = (await tableTimes(page)).filter((time) => time >= lastBefore);
  const { widest, at, doubled } = continuity(afterRestart);
  console.log(
    `figure: across the restart ${afterRestart.length} points from ${new Date(lastBefore).toISOString()}, ` +
      `widest step ${widest} ms (after ${at}), ${doubled.length} doubled`,
  );
  if (!afterRestart.includes(lastBefore)) fail("the last point before the restart is gone");
  if (widest > 2_500) fail(`a gap of ${widest} ms across the gateway restart`);
  if (doubled.length) fail(`points shown twice: ${doubled.join(", ")}`);
  if ((await chartPoints(page)) < 800) fail("the chart lost its history across the restart");

  if (screenshot) {
    await page.getByText("Show data as a table").click(); // fold the table for the picture
    await page.screenshot({ path: screenshot });
    console.log(`figure: screenshot ${screenshot}`);
  }

  step("reload the page: the chart keeps its data and resumes from its last sequence");
  const sent = [];
  page.on("websocket", (socket) => socket.on("framesent", ({ payload }) => sent.push(String(payload))));
  await openTable(page);
  const lastBeforeReload = (await tableTimes(page)).at(-1);
  if (!lastBeforeReload) fail("the data table is empty before the reload");
  await page.reload();
  await chart.and(page.locator('[data-state="ready"]')).waitFor();
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid="series-chart"]')?.getAttribute("data-points")) >= 800,
  );
  const subscribes = sent.map((text) => JSON.parse(text)).filter((frame) => frame.type === "subscribe");
  const resumed = subscribes.find((frame) => frame.channel === `series:${source}:${name}` && frame.resume_from > 0);
  if (!resumed) fail(`after the reload the socket did not resume: ${JSON.stringify(subscribes)}`);
  await openTable(page);
  await page.waitForFunction(
    (after) => [...document.querySelectorAll("details tr[data-time]")].some((row) => Number(row.getAttribute("data-time")) > after),
    Date.now() + 2_000,
  );
  const sinceReload = (await tableTimes(page)).filter((time) => time >= lastBeforeReload);
  const acrossReload = continuity(sinceReload);
  console.log(
    `figure: across the reload ${sinceReload.length} points, widest step ${acrossReload.widest} ms, ${acrossReload.doubled.length} doubled`,
  );
  if (sinceReload.length < 3 || sinceReload[0] !== lastBeforeReload) fail("points from before the reload are gone");
  if (acrossReload.widest > 2_500 || acrossReload.doubled.length) fail("the reload left a gap or doubled points");
  await page.getByText("Show data as a table").click();

  step("24 h: history from the database at about a point per pixel, with the live edge");
  const answered = page.waitForResponse((response) => /\/api\/v1\/metrics\?.*max_points=/.test(response.url()));
  await page.getByRole("button", { name: "24 h" }).click();
  const history = await answered;
  const body = await history.json();
  const maxPoints = Number(new URL(history.url()).searchParams.get("max_points"));
  if (history.status() !== 200 || body.series.length === 0) fail(`24 h history: ${history.status()} with ${body.series.length} points`);
  if (maxPoints > 2000) fail(`24 h asked for ${maxPoints} points`);
  await page.waitForFunction(() => {
    const chart = document.querySelector('[data-testid="series-chart"]');
    return chart?.getAttribute("data-state") === "ready" && Number(chart.getAttribute("data-points")) >= 800;
  });
  console.log(
    `figure: 24 h asked for at most ${maxPoints} points, got ${body.series.length} (${body.resolution}); ` +
      `chart at ${await chart.getAttribute("data-resolution")}, ${await chartPoints(page)} points`,
  );

  step("drag to zoom: the span comes back at a finer resolution; reset returns");
  await page.getByRole("button", { name: "15 min" }).click();
  await chart.and(page.locator('[data-state="ready"]')).waitFor();
  const plot = await chart.locator(".u-over").boundingBox();
  if (!plot) fail("no plot area to drag across");
  const y = plot.y + plot.height / 2;
  await page.mouse.move(plot.x + plot.width * 0.3, y);
  await page.mouse.down();
  await page.mouse.move(plot.x + plot.width * 0.6, y, { steps: 8 });
  await page.mouse.up();
  const reset = page.getByRole("button", { name: "Reset zoom" });
  await reset.waitFor();
  await chart.and(page.locator('[data-state="ready"]')).waitFor();
  const zoomed = await chartPoints(page);
  // About 30% of 15 minutes: some 270 points at one a second, raw.
  if (zoomed < 150 || zoomed > 450) fail(`the zoomed span holds ${zoomed} points`);
  console.log(`figure: zoomed to ${zoomed} points at resolution ${await chart.getAttribute("data-resolution")}`);
  await reset.click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="series-chart"]')?.getAttribute("data-points")) >= 800);

  step("admin: create a user, then an API key whose secret is shown once, then revoke it");
  await page.getByRole("link", { name: "Users" }).click();
  const newUser = `ana-${Date.now()}@pulse.test`;
  await page.getByLabel("Email").fill(newUser);
  await page.getByLabel("Password", { exact: true }).fill("a long enough password");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("cell", { name: newUser }).waitFor();
  await page.getByRole("button", { name: `Disable: ${newUser}` }).click();
  await page.getByRole("button", { name: `Enable: ${newUser}` }).waitFor();
  await page.getByRole("link", { name: "API keys" }).click();
  const keyName = `e2e-${Date.now()}`;
  await page.getByLabel("Name").fill(keyName);
  await page.getByLabel(/ingest:metrics/).check();
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = (await page.getByTestId("api-key-secret").innerText()).trim();
  if (!/^pk_/.test(secret)) fail(`the new key's secret looks wrong: ${secret.slice(0, 6)}…`);
  await page.getByRole("button", { name: `Revoke: ${keyName}` }).click();
  await page.getByRole("button", { name: "Yes, revoke" }).click();
  await page.getByRole("button", { name: `Revoke: ${keyName}` }).waitFor({ state: "detached" });
  console.log("figure: created a user and an API key, disabled the user, revoked the key");
  await page.getByRole("link", { name: "Overview" }).first().click();
  await tile.click();

  step("phone width: nothing overflows sideways, the chart still draws");
  await page.setViewportSize({ width: 375, height: 740 });
  for (const where of ["series page", "overview"]) {
    if (where === "overview") {
      await page.getByRole("link", { name: "Overview" }).first().click();
      await tile.waitFor();
    } else {
      await chart.and(page.locator('[data-state="ready"]')).waitFor();
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) fail(`the ${where} is ${overflow} px wider than a 375 px screen`);
  }
  if (screenshot) await page.screenshot({ path: screenshot.replace(/\.png$/, "-phone.png"), fullPage: true });
  const tileWidth = (await tile.boundingBox())?.width ?? 0;
  if (tileWidth < 300) fail(`tiles are ${tileWidth} px wide at 375 px: they should fill the column`);

  step("keyboard: the skip link is the first stop and moves focus to the content");
  const first = await page.evaluate(
    () => document.querySelector("a[href], button, input, select, textarea, [tabindex='0']")?.textContent?.trim(),
  );
  if (first !== "Skip to content") fail(`the first focusable element is ${JSON.stringify(first)}`);
  await page.getByRole("link", { name: "Skip to content" }).focus();
  await page.keyboard.press("Enter");
  const focused = await page.evaluate(() => document.activeElement?.id);
  if (focused !== "main") fail(`the skip link moved focus to ${JSON.stringify(focused)}`);
  await page.keyboard.press("Tab");
  const next = await page.evaluate(() => document.activeElement?.getAttribute("data-testid"));
  if (next !== "series-tile") fail(`after the skip link, Tab reaches ${JSON.stringify(next)}, not a tile`);

  step("log out");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("Email").waitFor();
  if (problems.length) fail(problems.join("\n"));
  console.log("PULSE:passed");
} catch (error) {
  console.log(`FAILED at "${currentStep}": ${error.message}`);
  for (const problem of problems) console.log(problem);
  exitCode = 1;
} finally {
  lines.close();
  await browser.close();
}
process.exit(exitCode);
