// Alert rules in Debian's Chromium (playwright-core, no bundled browser): an admin makes a cpu
// rule on the Rules page (the preview lists host-1 with its value), the cpu crosses it, the
// admin's bell counts the rule's notification, the rule shows its firing series, the inbox
// shows the notification, and "resolved" follows when the cpu drops back.
//
// Driven by tests/e2e/test_alert_rules_browser.py, which starts a real stack (persistence,
// auth, notifier, alerts, gateway), publishes host-1's cpu every 0.2 s and passes:
//   PULSE_URL                     the gateway
//   PULSE_EMAIL, PULSE_PASSWORD   the admin who logs in
//   PULSE_SCREENSHOT              where to save the Rules page's screenshot
//   CHROMIUM                      the browser (default /usr/bin/chromium)
// To move the cpu it prints "PULSE:set-cpu <value>" and waits for "PULSE:cpu-set" on stdin.
// Progress goes to stdout; any failure exits 1 with the reason.

import { createInterface } from "node:readline";
import { launchChromium } from "./browser.mjs";

const url = process.env.PULSE_URL;
const email = process.env.PULSE_EMAIL;
const password = process.env.PULSE_PASSWORD;
const screenshot = process.env.PULSE_SCREENSHOT;
const RULE = "cpu hot";
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

function expectEqual(what, actual, expected) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    fail(`${what}: ${JSON.stringify(actual)}, not ${JSON.stringify(expected)}`);
  }
}

/** Asks the test to publish host-1's cpu at `value` from now on. */
async function setCpu(value) {
  console.log(`PULSE:set-cpu ${value}`);
  if ((await nextLine()) !== "PULSE:cpu-set") fail(`the test did not set the cpu to ${value}`);
}

/** Waits until the page's bell shows `count` unread (its data attribute and its name). */
async function bellShows(page, count, timeout = 20_000) {
  const bell = page.getByTestId("bell");
  await page.locator(`[data-testid="bell"][data-unread="${count}"]`).waitFor({ timeout });
  const name = await bell.getAttribute("aria-label");
  const expected = count === 0 ? "Notifications, none unread" : `Notifications, ${count} unread`;
  if (name !== expected) fail(`the bell is named ${JSON.stringify(name)}, not ${JSON.stringify(expected)}`);
}

/** The inbox's notifications, newest first: [title, body]. */
async function inboxItems(page) {
  const items = page.locator("[data-testid=inbox-list] li[data-notification]");
  const found = [];
  for (const item of await items.all()) {
    const title = (await item.locator("h3").textContent())?.replace(/^Unread: /, "");
    found.push([title, await item.locator(".inbox-body").textContent()]);
  }
  return found;
}

const browser = await launchChromium();
const problems = [];
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`console error: ${message.text()}`);
  });

  step("the admin logs in: the bell shows no unread notification, live");
  await page.goto(url);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator('[data-testid="connection"][data-state="open"]').waitFor();
  await bellShows(page, 0);

  step("the admin opens the Rules page from the header: no rules yet");
  await page.getByRole("navigation").getByRole("link", { name: "Alerts", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Alert rules" }).waitFor();
  await page.getByText("No rules yet.").waitFor();

  step("the form for cpu above 90 for 1 s: the preview lists host-1 with its value");
  await page.getByRole("button", { name: "New rule" }).click();
  const form = page.getByTestId("rule-form");
  await form.getByLabel("Name", { exact: true }).fill(RULE);
  await form.getByLabel("When").selectOption("threshold");
  await form.getByLabel("Metric", { exact: true }).fill("cpu");
  await form.getByLabel("Is", { exact: true }).selectOption("above");
  await form.getByLabel("Value", { exact: true }).fill("90");
  await form.getByLabel("For (seconds)").fill("1");
  const previewed = form.locator('[data-testid=rule-preview][data-state=ready] tr[data-series="host-1:cpu"]');
  await previewed.waitFor();
  // The unit comes from the catalog, which may answer after the preview: wait for it.
  await form.locator('[data-testid=rule-preview] tr[data-series="host-1:cpu"] td:nth-child(3)', { hasText: "%" }).waitFor();
  const [source, metric, value, , meets] = await previewed.locator("td").allTextContents();
  expectEqual("the previewed series", [source, metric, value, meets], ["host-1", "cpu", "20 %", "No"]);
  const summary = await form.getByTestId("rule-preview").getByRole("status").textContent();
  expectEqual("the preview's summary", summary, "1 series, 0 above 90 now.");

  step("to themselves, saved: the list shows it");
  await form.getByLabel("Users (pick several with Ctrl or ⌘)").selectOption({ label: email });
  await form.getByRole("button", { name: "Create rule" }).click();
  await page.getByText(`“${RULE}” is created.`).waitFor();
  const row = page.locator("[data-testid=rules-table] tr[data-rule]");
  // The message comes with the save's answer; the list is read again after it.
  await row.first().waitFor({ timeout: 10_000 }).catch(() => {});
  if ((await row.count()) !== 1) fail(`the list has ${await row.count()} rules`);
  expectEqual("the rule's name", await row.locator("th").textContent(), RULE);
  const [condition, severity, recipients, state] = await row.locator("td").allTextContents();
  expectEqual("the listed rule", [condition, severity, recipients, state], ["cpu (any source) above 90 for 1 s", "warning", "1 user", "Enabled"]);
  await page.getByRole("button", { name: `Series: ${RULE}` }).click();
  const firings = page.locator("[data-testid=rules-table] [data-testid=rule-firings]");
  await page.locator("[data-testid=rules-table] [data-testid=rule-firings][data-firing='0']").waitFor();
  expectEqual("the series button", await page.getByRole("button", { name: `Series: ${RULE}` }).getAttribute("aria-expanded"), "true");

  step("the cpu goes to 97: the bell counts the rule's notification");
  await setCpu(97);
  await bellShows(page, 1, 30_000);
  const said = await page.getByTestId("bell-announcement").textContent();
  expectEqual("the live region", said, "1 unread notification");

  step("the rule's series shows host-1:cpu firing at 97");
  await firings.locator('tr[data-series="host-1:cpu"][data-state="firing"]').waitFor();
  expectEqual("the firing row", await firings.locator('tr[data-series="host-1:cpu"] td').allTextContents().then((t) => t.slice(0, 2)), ["Firing", "97"]);

  step("editing the rule shows its firing series and the preview meeting it now");
  await page.getByRole("button", { name: `Edit: ${RULE}` }).click();
  await page.getByRole("heading", { level: 2, name: `Edit “${RULE}”` }).waitFor();
  await form.locator('[data-testid=rule-firings] tr[data-series="host-1:cpu"][data-state="firing"]').waitFor();
  await form.locator('[data-testid=rule-preview][data-state=ready] tr[data-series="host-1:cpu"][data-matches="true"]').waitFor();
  if (screenshot) {
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`figure: screenshot ${screenshot}`);
  }
  await form.getByRole("button", { name: "Cancel" }).click();

  step("the inbox, from the bell, shows the rule's notification");
  await page.getByTestId("bell").click();
  await page.getByRole("heading", { level: 1, name: "Notifications" }).waitFor();
  await page.locator("[data-testid=inbox-list] li[data-notification]").first().waitFor();
  const [fired] = await inboxItems(page);
  expectEqual("the notification's title", fired[0], RULE);
  if (!fired[1]?.startsWith("host-1:cpu is 97, above 90 for 1 s")) fail(`the notification says ${JSON.stringify(fired[1])}`);
  const from = await page.locator("[data-testid=inbox-list] li[data-notification] .inbox-source").first().textContent();
  expectEqual("where it came from", from, "From an alert rule");

  step("the cpu drops to 10: the resolve arrives (count 2), live in the inbox");
  await setCpu(10);
  await bellShows(page, 2, 30_000);
  await page.locator("[data-testid=inbox-list] li[data-notification]").nth(1).waitFor();
  const [resolved, first] = await inboxItems(page);
  expectEqual("the newest title", resolved[0], `Resolved: ${RULE}`);
  expectEqual("the older title", first[0], RULE);
  if (!resolved[1]?.startsWith("host-1:cpu is back to normal")) fail(`the resolve says ${JSON.stringify(resolved[1])}`);

  if (problems.length) fail(problems.join("\n"));
  console.log("PULSE:passed");
} catch (error) {
  console.log(`FAILED at "${currentStep}": ${error.message}`);
  for (const problem of problems) console.log(problem);
  exitCode = 1;
} finally {
  await browser.close();
  lines.close();
}
process.exit(exitCode);
