// Times the explorer home page's first render in headless Chromium (the system's, by
// executablePath), for scripts/bench/explorer.py.
//
//   node firstrender.mjs PLAN.json   ->  one JSON document on stdout
//
// PLAN: {"base": "http://…/explorer/", "chromium": "/usr/bin/chromium", "loads": 5}
// Cold: each load in a fresh browser context (empty HTTP cache). Warm: one context, the
// page loaded once untimed, then `loads` more navigations to it (cached static files).
// Each load reports the page's "explorer:first-render" mark (app.js sets it in the
// animation frame after the home page's first data is drawn: the frame that paints the
// cards, the latest blocks and the charts; its startTime counts from navigation start)
// and every request the page made up to then (URL, method, body size, duration).

import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const loads = plan.loads || 5;
const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});

async function timed(page) {
  const bodies = [];
  const onReq = (r) => {
    if (r.method() === "POST") bodies.push({ url: r.url(), body: r.postData() || "" });
  };
  page.on("request", onReq);
  await page.goto(plan.base + "#/");
  const handle = await page.waitForFunction(
    () => performance.getEntriesByName("explorer:first-render")[0]?.startTime ?? false,
    null,
    { timeout: plan.timeout_ms || 60000 },
  );
  const ms = await handle.jsonValue();
  page.off("request", onReq);
  const requests = await page.evaluate(() =>
    performance.getEntriesByType("resource").map((e) => ({
      url: e.name,
      start: e.startTime,
      ms: e.duration,
      bytes: e.transferSize,
      type: e.initiatorType,
    })),
  );
  // the RPC calls a POST carried (its body says which methods), in the order made
  let i = 0;
  for (const r of requests) {
    if (r.type !== "fetch") continue;
    const b = bodies.slice(i).find((x) => x.url === r.url);
    if (!b) continue;
    i = bodies.indexOf(b) + 1;
    try {
      const calls = [JSON.parse(b.body)].flat();
      r.methods = [...new Set(calls.map((c) => c.method))].join(",") + ` x${calls.length}`;
    } catch {
      r.methods = "";
    }
  }
  const error = await page.evaluate(() => document.querySelector("main").getAttribute("data-error"));
  return { ms, error, requests };
}

const out = { cold: [], warm: [], errors: [] };
try {
  for (let n = 0; n < loads; n++) {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (e) => out.errors.push(`page error: ${e.message}`));
    out.cold.push(await timed(page));
    await context.close();
  }
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => out.errors.push(`page error: ${e.message}`));
  await timed(page);
  for (let n = 0; n < loads; n++) {
    await page.goto("about:blank");
    out.warm.push(await timed(page));
  }
  await context.close();
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
