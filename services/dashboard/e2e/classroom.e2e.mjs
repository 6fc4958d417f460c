// The classroom pages in Debian's Chromium (playwright-core, no bundled browser).
//
// Driven by tests/e2e/test_classroom_browser.py, which starts a real stack and passes:
//   PULSE_URL, PULSE_EMAIL, PULSE_PASSWORD   where, and an instructor's login
//   PULSE_CLASS                              the id of the class to create
//   PULSE_SCREENSHOT                         where to save the class page's screenshot
//   CHROMIUM                                 the browser (default /usr/bin/chromium)
// Once the class page is open it prints "PULSE:send-events <class key secret>" and waits for
// "PULSE:events-sent" on stdin (the test posts students' cell executions to ingest with the
// key). Progress goes to stdout; any failure exits 1 with the reason.

import { createInterface } from "node:readline";
import { launchChromium } from "./browser.mjs";

const url = process.env.PULSE_URL;
const email = process.env.PULSE_EMAIL;
const password = process.env.PULSE_PASSWORD;
const classId = process.env.PULSE_CLASS ?? "e2e-class";
const screenshot = process.env.PULSE_SCREENSHOT;
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

/** Every heatmap cell's state, keyed "student/column". */
async function picture(page) {
  return page.locator('[data-testid="heatmap"] tr[data-student]').evaluateAll((rows) =>
    Object.fromEntries(
      rows.flatMap((row) =>
        [...row.querySelectorAll("td[data-state]")].map((cell, i) => [
          `${row.getAttribute("data-student")}/${i}`,
          cell.getAttribute("data-state"),
        ]),
      ),
    ),
  );
}

const count = (states, state) => Object.values(states).filter((s) => s === state).length;

const browser = await launchChromium();
const problems = [];
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(url).origin });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`console error: ${message.text()}`);
  });

  step("log in as an instructor: the header offers Classes");
  await page.goto(url);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Classes" }).click();
  await page.getByRole("heading", { level: 1, name: "Classes" }).waitFor();

  step("create a class: its key is shown once, with the notebook snippet");
  await page.getByLabel("Title").fill("Python 101 (browser test)");
  await page.getByLabel("Id", { exact: true }).fill(classId);
  await page.getByLabel("Cells (optional)").fill("4");
  await page.getByRole("button", { name: "Create class" }).click();
  const secret = (await page.getByTestId("class-key-secret").textContent())?.trim();
  if (!secret) fail("no producer key secret was shown");
  const snippet = await page.getByTestId("class-snippet").textContent();
  if (!snippet.includes("%load_ext pulse_notebook") || !snippet.includes(`key=${secret}`)) {
    fail(`the snippet does not carry the key: ${JSON.stringify(snippet)}`);
  }
  await page.getByRole("button", { name: "Copy snippet" }).click();
  await page.getByText(/Snippet copied to the clipboard|the snippet is selected/).waitFor();
  await page.locator(`tr[data-class="${classId}"]`).waitFor();

  step("open the class page: empty, live");
  await page.getByRole("link", { name: "Open the class" }).click();
  await page.getByRole("heading", { level: 1, name: "Python 101 (browser test)" }).waitFor();
  await page.getByTestId("class-live").and(page.locator('[data-state="live"]')).waitFor();
  await page.getByTestId("heatmap-empty").waitFor();

  step("students run cells: the heatmap, the feed and the hotspots follow live");
  console.log(`PULSE:send-events ${secret}`);
  if ((await nextLine()) !== "PULSE:events-sent") fail("the test did not send the events");
  await page.locator('[data-testid="heatmap"][data-students="3"]').waitFor();
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid="heatmap"] td[data-state="errored"]').length === 2,
  );
  const live = await picture(page);
  if (count(live, "ran") !== 4 || count(live, "errored") !== 2) fail(`live picture: ${JSON.stringify(live)}`);
  const errored = page.locator('td[data-state="errored"]').first();
  if (!/: errored \(\w+\)$/.test((await errored.getAttribute("aria-label")) ?? "")) {
    fail(`an errored cell is not named in words: ${await errored.getAttribute("aria-label")}`);
  }
  if ((await page.locator('[data-testid="activity-feed"] li').count()) !== 6) fail("the feed does not list the 6 runs");
  await page.getByTestId("hotspots").getByText("NameError").waitFor({ timeout: 40_000 });

  step("keyboard: one tab stop in the grid, arrows move between cells");
  const first = page.locator(".heatmap-name").first();
  await first.focus();
  await page.keyboard.press("ArrowRight");
  const focused = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
  if (!/^ada, cell 1: ran$/.test(focused ?? "")) fail(`ArrowRight focused ${JSON.stringify(focused)}`);
  if ((await page.locator('[data-testid="heatmap"] [tabindex="0"]').count()) !== 1) fail("more than one tab stop in the grid");

  step("drill down: a student's timeline");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="student-timeline"][data-student="ada"] li').nth(2).waitFor();

  step("reload: the same picture from the stored history");
  await page.reload();
  await page.locator('[data-testid="heatmap"][data-students="3"]').waitFor();
  await page.locator('[data-testid="student-timeline"][data-student="ada"]').waitFor();
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid="heatmap"] td[data-state="errored"]').length === 2,
  );
  const stored = await picture(page);
  if (JSON.stringify(stored) !== JSON.stringify(live)) {
    fail(`after a reload ${JSON.stringify(stored)} differs from ${JSON.stringify(live)}`);
  }
  await page.locator('[data-testid="progress-chart"]').waitFor();
  if (screenshot) {
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`figure: screenshot ${screenshot}`);
  }

  step("phone width: the page does not overflow; the grid scrolls with the student column fixed");
  await page.setViewportSize({ width: 375, height: 740 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`the class page is ${overflow} px wider than a 375 px screen`);
  const sticky = await page.locator("tbody .heatmap-student").first().evaluate((cell) => getComputedStyle(cell).position);
  if (sticky !== "sticky") fail(`the student column is ${sticky}, not sticky`);
  if (screenshot) await page.screenshot({ path: screenshot.replace(/\.png$/, "-phone.png"), fullPage: true });

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
