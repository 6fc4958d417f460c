// The classroom chain as it was specified: a cell run in a real JupyterLab reaches the
// instructor's class page live, and a reload shows the same picture from the stored history.
//
// Driven by tests/e2e/test_classroom_jupyterlab.py, which starts Pulse and JupyterLab (its
// kernels configured for pulse_notebook with the class's key) and passes:
//   PULSE_URL, PULSE_EMAIL, PULSE_PASSWORD   Pulse, and the instructor's login
//   PULSE_CLASS                              the class (created by the test)
//   PULSE_STUDENT                            the student id the notebook reports
//   JUPYTERLAB_URL                           the notebook to open, with its token
//   PULSE_SCREENSHOT                         where to save the class page's screenshot
//   CHROMIUM                                 the browser (default /usr/bin/chromium)
// Progress goes to stdout; any failure exits 1 with the reason.

import { launchChromium } from "./browser.mjs";

const url = process.env.PULSE_URL;
const classId = process.env.PULSE_CLASS;
const student = process.env.PULSE_STUDENT;
const screenshot = process.env.PULSE_SCREENSHOT;
const step = (text) => console.log(`step: ${text}`);
const fail = (message) => {
  throw new Error(message);
};

/** The student's heatmap row: each cell's state in column order. */
async function row(page) {
  return page
    .locator(`[data-testid="heatmap"] tr[data-student="${student}"] td[data-state]`)
    .evaluateAll((cells) => cells.map((cell) => cell.getAttribute("data-state")));
}

async function answerDialogs(page) {
  const dialog = page.locator(".jp-Dialog");
  if ((await dialog.count()) === 0) return;
  const text = (await dialog.first().innerText()).replace(/\s+/g, " ").slice(0, 300);
  console.log(`figure: JupyterLab asked: ${text}`);
  await dialog.first().locator(".jp-Dialog-button.jp-mod-accept").first().click();
  await dialog.first().waitFor({ state: "detached", timeout: 15_000 });
}

const browser = await launchChromium();
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const pulse = await context.newPage();
  pulse.setDefaultTimeout(30_000);
  pulse.on("pageerror", (error) => console.log(`page error: ${error.message}`));
  pulse.on("console", (message) => {
    if (message.type() === "error") console.log(`console error: ${message.text()}`);
  });
  pulse.on("response", (response) => {
    if (response.status() >= 400) console.log(`HTTP ${response.status()} ${response.url()}`);
  });

  step("the instructor opens the class page: nobody has run a cell yet");
  await pulse.goto(url);
  await pulse.getByLabel("Email").fill(process.env.PULSE_EMAIL);
  await pulse.getByLabel("Password").fill(process.env.PULSE_PASSWORD);
  await pulse.getByRole("button", { name: "Log in" }).click();
  await pulse.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Classes" }).click();
  await pulse.locator(`tr[data-class="${classId}"]`).waitFor();
  await pulse.goto(new URL(`#/classes/${classId}`, url).toString());
  await pulse.getByTestId("class-live").and(pulse.locator('[data-state="live"]')).waitFor();
  await pulse.getByTestId("heatmap-empty").waitFor();

  step("a student runs the notebook's three cells in JupyterLab (the last one raises)");
  const lab = await context.newPage();
  lab.setDefaultTimeout(90_000);
  await lab.goto(process.env.JUPYTERLAB_URL);
  await lab.locator(".jp-Notebook .jp-Cell").first().waitFor();
  await lab.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").waitFor();
  // Each cell in turn, as a student does: into its editor, Shift+Enter, and on only once the
  // kernel has numbered it (a key pressed while JupyterLab is still settling can go astray).
  // If the key was lost (the prompt neither queued "[*]" nor numbered), press it again; a
  // dialog JupyterLab opens meanwhile (on a loaded machine) is logged and answered as a
  // student would, with its default button.
  for (let cell = 0; cell < 3; cell += 1) {
    const code = lab.locator(".jp-Notebook .jp-CodeCell").nth(cell);
    const prompt = code.locator(".jp-InputPrompt");
    for (let attempt = 1; ; attempt += 1) {
      try {
        await answerDialogs(lab);
        await code.locator(".jp-InputArea-editor").click({ timeout: 15_000 });
        await code.and(lab.locator(".jp-mod-active")).waitFor({ timeout: 15_000 });
        await lab.keyboard.press("Shift+Enter");
        const started = prompt.filter({ hasText: /\[(\d+|\*)\]/ });
        await started.waitFor({ timeout: attempt === 1 ? 10_000 : 20_000 });
        break;
      } catch (error) {
        if (attempt === 4) throw error;
        console.log(`figure: cell ${cell} did not start (${error.message.split("\n")[0]}); again`);
      }
    }
    await prompt.filter({ hasText: /\[\d+\]/ }).waitFor();
  }
  await lab.getByText("ZeroDivisionError").first().waitFor();
  const prompts = await lab.locator(".jp-Notebook .jp-InputPrompt").allInnerTexts();
  const outputs = await lab.locator(".jp-Notebook .jp-OutputArea-output").allInnerTexts();
  console.log(`figure: the notebook ran its cells: prompts ${JSON.stringify(prompts)}`);
  console.log(`figure: outputs ${JSON.stringify(outputs.map((o) => o.slice(0, 300)))}`);

  step("the class page follows live: one student, two cells ran, one errored");
  await pulse.bringToFront();
  await pulse.locator(`[data-testid="heatmap"] tr[data-student="${student}"]`).waitFor();
  await pulse.waitForFunction(
    (who) => {
      const cells = document.querySelectorAll(`[data-testid="heatmap"] tr[data-student="${who}"] td[data-state]`);
      const states = [...cells].map((cell) => cell.getAttribute("data-state"));
      return states.filter((s) => s === "ran").length >= 2 && states.includes("errored");
    },
    student,
  );
  const live = await row(pulse);
  console.log(`figure: live row ${JSON.stringify(live)}`);
  await pulse.getByTestId("activity-feed").getByText("ZeroDivisionError").first().waitFor();

  step("reload: the same picture from the stored history");
  await pulse.reload();
  await pulse.locator(`[data-testid="heatmap"] tr[data-student="${student}"]`).waitFor();
  await pulse.waitForFunction(
    (who) => document.querySelectorAll(`[data-testid="heatmap"] tr[data-student="${who}"] td[data-state="errored"]`).length >= 1,
    student,
  );
  const stored = await row(pulse);
  if (JSON.stringify(stored) !== JSON.stringify(live)) {
    fail(`after a reload ${JSON.stringify(stored)} differs from ${JSON.stringify(live)}`);
  }
  if (screenshot) {
    await pulse.screenshot({ path: screenshot, fullPage: true });
    console.log(`figure: screenshot ${screenshot}`);
  }
  console.log("PULSE:passed");
} catch (error) {
  console.log(`FAILED: ${error.message}`);
  exitCode = 1;
} finally {
  await browser.close();
}
process.exit(exitCode);
