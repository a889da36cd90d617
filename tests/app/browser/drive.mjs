// Drives headless Chromium (the system's, by executablePath) through the explorer for
// tests/app/test_explorer_browser.py, which makes the plan and asserts on what this prints.
//
//   node drive.mjs PLAN.json   ->  one JSON document on stdout
//
// PLAN: {"base": "http://…/explorer/", "chromium": "/usr/bin/chromium", "out": "DIR",
//        "steps": [{"name": "home", "goto": "#/"} | {"name": "s", "search": "0x…"}
//                  | {"name": "later", "redraw": true}]}  (stays, waits for a redraw)
// Each step opens the page at a laptop and a phone viewport (or types the search into the
// search box and presses Enter), waits until the page says it is drawn (main[data-ready]),
// saves a screenshot of each (DIR/NAME-laptop.png, DIR/NAME-phone.png) and reports the
// route it landed on, the page's text, and whether the page is wider than the viewport.
// Console errors and uncaught page errors are reported too.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const VIEWPORTS = {
  laptop: { viewport: { width: 1366, height: 900 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};

const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const out = { steps: [], errors: [] };
try {
  for (const [vpName, opts] of Object.entries(VIEWPORTS)) {
    const context = await browser.newContext(opts);
    const page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") out.errors.push(`${vpName} console: ${m.text()}`);
    });
    page.on("pageerror", (e) => out.errors.push(`${vpName} page error: ${e.message}`));
    page.setDefaultTimeout(plan.timeout_ms || 20000);
    for (const step of plan.steps) {
      const started = Date.now();
      if (step.search !== undefined) {
        if (!page.url().startsWith(plan.base)) await page.goto(plan.base + "#/");
        await page.waitForSelector("main[data-ready]");
        const before = await page.evaluate(() => location.hash);
        await page.fill("#q", step.search);
        await page.press("#q", "Enter");
        await page.waitForFunction((b) => location.hash !== b || !document.querySelector("#q").value, before);
      } else if (step.goto !== undefined) {
        await page.goto(plan.base + step.goto);
      } // else: stay on the page (live updates redraw it)
      if (step.redraw) {
        // the previous step's page, drawn again at a later height, with the websocket up
        const before = Number(out.steps[out.steps.length - 1].height);
        await page.waitForFunction(
          (h) =>
            Number(document.querySelector("#stat-height .value")?.textContent) > h &&
            document.getElementById("live").textContent.startsWith("live"),
          before,
        );
      }
      // drawn, and for the route the address bar shows (not the page before it)
      await page.waitForFunction(() => {
        const m = document.querySelector("main");
        return m.hasAttribute("data-ready") && !m.hasAttribute("aria-busy") && m.dataset.route === (location.hash || "#/");
      });
      if (step.wait_text) {
        await page.waitForFunction((t) => document.querySelector("main").innerText.includes(t), step.wait_text);
      }
      const got = await page.evaluate(() => ({
        hash: location.hash,
        ready: document.querySelector("main").getAttribute("data-ready"),
        error: document.querySelector("main").getAttribute("data-error"),
        text: document.querySelector("main").innerText,
        title: document.title,
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        live: document.getElementById("live").textContent,
        height: document.querySelector("#stat-height .value")?.textContent ?? null,
      }));
      await page.screenshot({ path: join(plan.out, `${step.name}-${vpName}.png`), fullPage: true });
      out.steps.push({ name: step.name, viewport: vpName, ms: Date.now() - started, ...got });
    }
    await context.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
