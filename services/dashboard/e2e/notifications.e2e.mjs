// Notifications in Debian's Chromium (playwright-core, no bundled browser): two devices of one
// user see the bell count follow a notification sent by an admin, and reading it on one
// clears it on the other.
//
// Driven by tests/e2e/test_notifications_browser.py, which starts a real stack and passes:
//   PULSE_URL, PULSE_URL_2        the two devices' gateways (two replicas, or the same one twice)
//   PULSE_EMAIL, PULSE_PASSWORD   the user both devices log in as
//   PULSE_SCREENSHOT              where to save the inbox's screenshot
//   CHROMIUM                      the browser (default /usr/bin/chromium)
// Once both devices show the bell it prints "PULSE:send-notification" and waits for
// "PULSE:notification-sent" on stdin (the test sends one to the user as an admin, over REST).
// Progress goes to stdout; any failure exits 1 with the reason.

import { createInterface } from "node:readline";
import { launchChromium } from "./browser.mjs";

const urls = [process.env.PULSE_URL, process.env.PULSE_URL_2 ?? process.env.PULSE_URL];
const email = process.env.PULSE_EMAIL;
const password = process.env.PULSE_PASSWORD;
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

/** Waits until the page's bell shows `count` unread (its data attribute and its name). */
async function bellShows(page, count, timeout = 20_000) {
  const bell = page.getByTestId("bell");
  await page.locator(`[data-testid="bell"][data-unread="${count}"]`).waitFor({ timeout });
  const name = await bell.getAttribute("aria-label");
  const expected = count === 0 ? "Notifications, none unread" : `Notifications, ${count} unread`;
  if (name !== expected) fail(`the bell is named ${JSON.stringify(name)}, not ${JSON.stringify(expected)}`);
}

const browser = await launchChromium();
const problems = [];
let exitCode = 0;
try {
  // Two devices: two browser contexts (cookies and storage of their own).
  const pages = [];
  for (const [n, url] of urls.entries()) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on("pageerror", (error) => problems.push(`device ${n + 1}: page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") console.log(`device ${n + 1}: console error: ${message.text()}`);
    });
    step(`device ${n + 1} logs in: the bell shows no unread notification, live`);
    await page.goto(url);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.locator('[data-testid="connection"][data-state="open"]').waitFor();
    await bellShows(page, 0);
    pages.push(page);
  }
  const [first, second] = pages;

  step("an admin sends a notification: both bells count it");
  console.log("PULSE:send-notification");
  if ((await nextLine()) !== "PULSE:notification-sent") fail("the test did not send the notification");
  await bellShows(first, 1);
  await bellShows(second, 1);
  const said = await second.getByTestId("bell-announcement").textContent();
  if (said !== "1 unread notification") fail(`the live region said ${JSON.stringify(said)}`);

  step("device 1 opens the inbox from the bell (keyboard): the notification is there, unread");
  await first.getByTestId("bell").focus();
  await first.keyboard.press("Enter");
  await first.getByRole("heading", { level: 1, name: "Notifications" }).waitFor();
  const item = first.locator("[data-testid=inbox-list] li[data-notification]").first();
  await item.waitFor();
  if ((await item.getAttribute("data-read")) !== "false") fail("the new notification is not unread in the inbox");
  const title = (await item.locator("h3").textContent())?.replace(/^Unread: /, "");
  if (screenshot) {
    await first.screenshot({ path: screenshot, fullPage: true });
    console.log(`figure: screenshot ${screenshot}`);
  }

  step("device 1 reads it: the count drops on both devices");
  await item.getByRole("button", { name: `Mark read: ${title}` }).click();
  await bellShows(first, 0);
  await bellShows(second, 0);
  const after = await second.getByTestId("bell-announcement").textContent();
  if (after !== "No unread notifications") fail(`the live region said ${JSON.stringify(after)}`);

  step("device 2's inbox lists it as read; the Unread filter is empty");
  await second.getByTestId("bell").click();
  await second.locator('[data-testid=inbox-list] li[data-read="true"]').first().waitFor();
  await second.getByRole("navigation", { name: "Filter notifications" }).getByRole("link", { name: "Unread" }).click();
  await second.getByTestId("inbox-empty").waitFor();

  step("device 2 reloads: the count is read again and stays 0");
  await second.reload();
  await second.locator('[data-testid="connection"][data-state="open"]').waitFor();
  await bellShows(second, 0);

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
