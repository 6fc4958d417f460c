// The audit pages in Debian's Chromium (playwright-core, no bundled browser): an admin opens
// Logs from the header, filters the requests to a refused one, opens its details (headers
// redacted), turns the live tail on and sees another request arrive, follows the first one's
// trace to its timeline — the request, the bulk import's steps with the failed one highlighted
// and its stack trace, the refused message — then opens Dead letters, looks at the message's
// bytes (escaped preview, hex dump) and replays it after a confirmation.
//
// Driven by tests/e2e/test_audit_browser.py, which starts a real stack (persistence, auth,
// ingest, gateway), makes that story under one trace id and passes:
//   PULSE_URL                     the gateway
//   PULSE_EMAIL, PULSE_PASSWORD   the admin who logs in
//   PULSE_TRACE                   the story's trace id
//   PULSE_LETTER                  the id of its dead letter
//   PULSE_SCREENSHOTS             the folder for logs.png, trace.png, deadletters.png
//   CHROMIUM                      the browser (default /usr/bin/chromium)
// For the live tail it prints "PULSE:make-request" and waits for "PULSE:requested <trace id>"
// (the test made another refused request). Progress goes to stdout; any failure exits 1.

import { join } from "node:path";
import { createInterface } from "node:readline";
import { launchChromium } from "./browser.mjs";

const url = process.env.PULSE_URL;
const email = process.env.PULSE_EMAIL;
const password = process.env.PULSE_PASSWORD;
const trace = process.env.PULSE_TRACE;
const letterId = process.env.PULSE_LETTER;
const screenshots = process.env.PULSE_SCREENSHOTS;
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

async function shoot(page, name) {
  if (!screenshots) return;
  const path = join(screenshots, name);
  await page.screenshot({ path, fullPage: true });
  console.log(`figure: screenshot ${path}`);
}

const browser = await launchChromium();
const problems = [];
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", (dialog) => {
    problems.push(`a browser dialog opened (injected script?): ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`console error: ${message.text()}`);
  });

  step("the admin logs in");
  await page.goto(url);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator('[data-testid="connection"][data-state="open"]').waitFor();

  step("Logs, from the header; the requests filtered to 4xx under /api/v1/metrics");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Logs", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Logs" }).waitFor();
  const filters = page.getByTestId("access-filters");
  await filters.getByLabel("Status").fill("4xx");
  await filters.getByLabel("Path").fill("/api/v1/metrics");
  await filters.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(/#\/admin\/logs\?status=4xx&path=%2Fapi%2Fv1%2Fmetrics$/);
  const row = page.locator(`[data-testid=access-table] tr[data-trace="${trace}"]`);
  await row.waitFor();
  const cells = await row.locator("td").allTextContents();
  expectEqual("the request's service, method, status", [cells[1], cells[2], cells[4]], ["gateway", "GET", "400"]);
  if (!cells[3].startsWith("/api/v1/metrics?name=cpu")) fail(`the path is ${JSON.stringify(cells[3])}`);
  const statuses = await page.locator("[data-testid=access-table] tr[data-status]").evaluateAll((rows) =>
    rows.map((r) => r.getAttribute("data-status")),
  );
  if (statuses.some((s) => !s.startsWith("4"))) fail(`a row that is not 4xx: ${statuses}`);

  step("its details: the headers with the token redacted, the error body as text");
  await row.getByRole("button", { name: /^Show details: GET/ }).click();
  const details = page.getByTestId("access-details");
  await details.waitFor();
  const authorization = await details.locator("tr", { has: page.locator("th", { hasText: /^authorization$/ }) }).locator("td").textContent();
  if (!authorization || /eyJ/.test(authorization)) fail(`the authorization header is shown as ${JSON.stringify(authorization)}`);
  await details.getByText("Response body:").waitFor();
  expectEqual("the details button", await row.getByRole("button", { name: /details: GET/ }).getAttribute("aria-expanded"), "true");

  step("the live tail: another refused request appears on top");
  await page.getByTestId("live-tail").click();
  await page.locator('[data-testid=tail-status][data-state="live"]').waitFor();
  console.log("PULSE:make-request");
  const reply = await nextLine();
  if (!reply.startsWith("PULSE:requested ")) fail(`the test answered ${JSON.stringify(reply)}`);
  const liveTrace = reply.slice("PULSE:requested ".length);
  const liveRow = page.locator(`[data-testid=access-table] tr[data-live="true"][data-trace="${liveTrace}"]`);
  await liveRow.waitFor({ timeout: 30_000 });
  const firstTrace = await page.locator("[data-testid=access-table] tbody tr").first().getAttribute("data-trace");
  expectEqual("the top row", firstTrace, liveTrace);
  await page.getByTestId("tail-status").getByText("Live tail: 1 new request.").waitFor();
  await shoot(page, "logs.png");

  step("the request's trace: the timeline with the failed step highlighted");
  await row.getByRole("link", { name: `Trace ${trace}` }).click();
  await page.waitForURL(new RegExp(`#/traces/${trace}$`));
  await page.getByRole("heading", { level: 1, name: `Trace ${trace}` }).waitFor();
  const timeline = page.getByTestId("trace-timeline");
  await timeline.waitFor();
  const kinds = await timeline.locator("li[data-kind]").evaluateAll((items) => items.map((i) => i.getAttribute("data-kind")));
  expectEqual("the records' kinds in time order", kinds, ["access", "access", "step", "step", "step", "step", "step", "dead_letter"]);
  const statusesInOrder = await timeline
    .locator("li[data-kind=step]")
    .evaluateAll((items) => items.map((i) => i.getAttribute("data-step-status")));
  expectEqual("the steps' statuses", statusesInOrder, ["START", "SUCCESS", "SUCCESS", "FAILED", "FAILED"]);
  expectEqual("the first offset", await timeline.locator(".trace-offset").first().textContent(), "+0 ms");
  await page.getByTestId("trace-summary").getByText("2 requests, 5 task steps, 1 dead letter").waitFor();
  const failure = page.getByTestId("trace-failure");
  await failure.getByText("metrics_import failed at step “chunk 2”: RowInvalid: line 57: value 'abc' is not a number").waitFor();
  await failure.getByRole("button", { name: "Show the failed step" }).click();
  const failed = timeline.locator('li[data-failed="true"]').first();
  const focused = await failed.evaluate((li) => li === document.activeElement);
  if (!focused) fail("the failed step did not get the focus");
  expectEqual("the failed step's error", await failed.getByTestId("step-error").textContent(), "RowInvalid: line 57: value 'abc' is not a number");
  await failed.getByText("Stack trace").click();
  await failed.locator("pre", { hasText: "Traceback (most recent call last)" }).waitFor();
  await failed.locator("pre", { hasText: "RowInvalid: line 57" }).waitFor();
  await shoot(page, "trace.png");

  step("Dead letters, from the header, filtered to the trace: its bytes shown safely");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dead letters" }).click();
  await page.getByRole("heading", { level: 1, name: "Dead letters" }).waitFor();
  const letterFilters = page.getByTestId("deadletter-filters");
  await letterFilters.getByLabel("Trace id").fill(trace);
  await letterFilters.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(new RegExp(`#/admin/dead-letters\\?trace=${trace}$`));
  const letter = page.locator(`[data-testid=deadletters-table] tr[data-letter="${letterId}"]`);
  await letter.waitFor();
  expectEqual("the letter's status", await letter.getAttribute("data-status"), "pending");
  const preview = await letter.getByTestId("letter-preview").textContent();
  if (!preview.includes('"value": "<script>alert(1)</script>"')) fail(`the preview is ${JSON.stringify(preview)}`);
  expectEqual("script elements in the table", await page.locator("[data-testid=deadletters-table] script").count(), 0);
  await letter.getByRole("button", { name: `Show the bytes of dead letter #${letterId}` }).click();
  const dump = page.getByTestId("hex-dump");
  await dump.waitFor();
  const hex = await dump.textContent();
  if (!hex.startsWith('00000000  7b 22 73 6f 75 72 63 65  22 3a 20 22 6c 61 62 2d  |{"source": "lab-|')) {
    fail(`the dump begins ${JSON.stringify(hex.slice(0, 90))}`);
  }
  if (!/ 7d\s+00 ff +\|[^|]*\}\.\.\|$/.test(hex)) fail(`the dump ends ${JSON.stringify(hex.slice(-90))}`);

  step("replay it, confirmed: the answer says it was replayed");
  await letter.getByRole("checkbox", { name: new RegExp(`^Select dead letter #${letterId} from `) }).check();
  expectEqual("the replay button", await page.getByTestId("replay-selected").textContent(), "Replay 1");
  await shoot(page, "deadletters.png");
  await page.getByTestId("replay-selected").click();
  const dialog = page.getByRole("dialog", { name: "Replay dead letters" });
  await dialog.getByText("Publish the original bytes of 1 dead letter to their subjects again?").waitFor();
  await dialog.getByRole("button", { name: "Replay" }).click();
  await page.getByTestId("deadletters-result").getByText(`Replayed 1 dead letter (#${letterId}).`).waitFor();

  step("all dead letters of the trace: this one is replayed");
  await page.goto(`${url.replace(/\/$/, "")}/#/admin/dead-letters?status=any&trace=${trace}`);
  await page.locator(`[data-testid=deadletters-table] tr[data-letter="${letterId}"][data-status="replayed"]`).waitFor();

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
