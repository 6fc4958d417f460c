#!/usr/bin/env node
// Gzips every dist/assets/*.js and prints the sizes; exits 1 when the total exceeds the budget.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const BUDGET = 250 * 1024;
const assets = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "assets");
if (!existsSync(assets)) {
  console.error("dist/assets does not exist: run `npm run build` first");
  process.exit(1);
}
const files = readdirSync(assets).filter((name) => name.endsWith(".js")).sort();
if (files.length === 0) {
  console.error("no JavaScript in dist/assets");
  process.exit(1);
}
let total = 0;
for (const name of files) {
  const raw = readFileSync(join(assets, name));
  const gz = gzipSync(raw, { level: 9 }).length;
  total += gz;
  console.log(`${(gz / 1024).toFixed(1).padStart(8)} KB gz  ${(raw.length / 1024).toFixed(1).padStart(8)} KB  ${name}`);
}
const kb = (total / 1024).toFixed(1);
console.log(`${kb.padStart(8)} KB gz  total JavaScript (budget ${BUDGET / 1024} KB)`);
if (total > BUDGET) {
  console.error(`over budget by ${((total - BUDGET) / 1024).toFixed(1)} KB`);
  process.exit(1);
}
