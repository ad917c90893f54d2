// Real-browser checks of a built site (run by tests/run-all):
//   node check.mjs SITE_DIR SCREENSHOT_DIR
// 1. Headless Chromium opens the overview from file://, finds the headline figure in the
//    rendered DOM, saves a screenshot, and sees no request leave the machine.
// 2. axe-core finds no WCAG 2.2 AA violation on one page of every kind (a template's page
//    for a service included).
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const [site, shots] = process.argv.slice(2);
if (!site || !shots) {
  console.error("usage: node check.mjs SITE_DIR SCREENSHOT_DIR");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let passed = 0;
let failed = 0;
const check = (ok, what) => {
  if (ok) { passed++; console.log(`ok   ${what}`); } else { failed++; console.log(`FAIL ${what}`); }
};

const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const offMachine = [];
page.on("request", (request) => {
  if (!request.url().startsWith("file://") && !request.url().startsWith("data:")) offMachine.push(request.url());
});
await page.goto(pathToFileURL(path.join(site, "index.html")).href);
const figure = (await page.locator(".cp-figure__value").first().textContent())?.trim() ?? "";
check(/^\d[\d,]*$/.test(figure), `overview shows the headline figure in the DOM (${figure})`);
const stylesheetApplied = await page.evaluate(() => getComputedStyle(document.querySelector(".nhsuk-header")).backgroundColor);
check(stylesheetApplied === "rgb(0, 94, 184)", `NHS.UK styles load from file:// (header ${stylesheetApplied})`);
await page.screenshot({ path: path.join(shots, "overview.png"), fullPage: true });
check(existsSync(path.join(shots, "overview.png")), "screenshot saved");
await page.setViewportSize({ width: 320, height: 800 });
const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
check(overflow <= 0, `no horizontal scrolling at 320 px (overflow ${overflow}px)`);
await page.screenshot({ path: path.join(shots, "overview-320.png"), fullPage: false });
// The small multiples of XmR charts reflow to one column (WCAG 1.4.10).
await page.goto(pathToFileURL(path.join(site, "programmes.html")).href);
const programmesOverflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
check(programmesOverflow <= 0, `programmes.html: no horizontal scrolling at 320 px (overflow ${programmesOverflow}px)`);

const kinds = [
  "index.html", "areas/nwl/index.html", "areas/nwl/brent.html", "templates/index.html",
  "templates/urgent-care-plan/index.html", "programmes.html", "quality.html", "method.html",
  // The form as one urgent and one other service sees it.
  "templates/urgent-care-plan/for-ed.html", "templates/urgent-care-plan/for-care-home.html",
];
// A template version page (from git history), when the site has one.
const versionPage = readdirSync(path.join(site, "templates/urgent-care-plan")).find((f) => /^v.*\.html$/.test(f));
if (versionPage) kinds.push(`templates/urgent-care-plan/${versionPage}`);
const axePath = require.resolve("axe-core/axe.min.js");
await page.setViewportSize({ width: 1280, height: 900 });
for (const kind of kinds) {
  await page.goto(pathToFileURL(path.join(site, kind)).href);
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } }),
  );
  for (const v of result.violations) {
    console.log(`  ${kind}: ${v.id} (${v.impact}): ${v.help}`);
    for (const node of v.nodes.slice(0, 3)) console.log(`    ${node.target.join(" ")}`);
  }
  check(result.violations.length === 0, `axe-core: no WCAG 2.2 AA violations on ${kind}`);
}
check(offMachine.length === 0, `no request left the machine${offMachine.length ? ": " + offMachine.join(", ") : ""}`);
await browser.close();
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
