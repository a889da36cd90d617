// Drives headless Chromium (the system's) through the web console's datasets and training
// and its wallet bond, for tests/app/test_console_training_browser.py, which makes the plan
// and asserts on what this prints.
//
//   node console_training.mjs PLAN.json   ->  one JSON document on stdout
//
// PLAN: {"url": "http://…/explorer/console.html", "chromium": "…", "out": "DIR",
//        "eth_key": "<hex>", "dev_key": "<hex>", "bad_file": {"name", "text"},
//        "dataset": {"name", "text"}, "steps": "2", "bond_amount": "150"}
// The test EIP-1193 provider (eip1193.js) is window.ethereum with eth_key. Steps: connect
// the wallet; pick a file that is not JSONL (refused in the page); pick the dataset with only
// the wallet (refused: uploads need a dev key); import the dev key, upload the dataset, start
// a lora-train job on it and watch it to a final state; bond the wallet as a worker through
// the staking precompile. Each step saves a screenshot (DIR/console-training-STEP.png) and
// reports what the user sees and the PUT requests the page sent to the artifact store.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const out = { steps: {}, errors: [], puts: [] };
const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
  await context.addInitScript(`window.__testEthKey = ${JSON.stringify(plan.eth_key)};`);
  await context.addInitScript({ path: join(import.meta.dirname, "eip1193.js") });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") out.errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => out.errors.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    if (r.method() === "PUT") out.puts.push({ url: r.url(), authorization: r.headers().authorization || "" });
  });
  page.setDefaultTimeout(plan.timeout_ms || 30000);
  const dataset = async () => ({
    status: await text(page, "#ds-status"),
    bad: await page.$eval("#ds-status", (e) => e.classList.contains("bad")),
    hash: await text(page, "#ds-hash"),
    progress: await page.$eval("#ds-progress", (e) => e.value),
    puts: out.puts.length,
  });
  const shot = async (name, extra = {}) => {
    await page.evaluate(() => window.scrollTo(0, 0)); // the sticky header at the top of the shot
    await page.screenshot({ path: join(plan.out, `console-training-${name}.png`), fullPage: true });
    out.steps[name] = {
      balances: await page.$$eval("#balances tr", (rows) =>
        rows.map((r) => ({ address: r.dataset.address, balance: r.querySelector(".balance").textContent, bonds: r.querySelector(".bonds").textContent })),
      ),
      ...extra,
    };
  };
  const pick = (f) => page.setInputFiles("#ds-file", { name: f.name, mimeType: f.mime || "application/octet-stream", buffer: Buffer.from(f.text) });
  const upload = async () => {
    await page.evaluate(() => {
      const s = document.querySelector("#ds-status");
      s.textContent = "";
      s.classList.remove("bad");
    });
    await page.click("#ds-upload");
    await page.waitForFunction(() => {
      const s = document.querySelector("#ds-status");
      return s.textContent.startsWith("uploaded ") || s.classList.contains("bad");
    });
  };

  await page.goto(plan.url);
  await page.waitForSelector("#console[data-ready]");
  await page.click("#connect-eth");
  await page.waitForFunction(() => document.querySelector("#eth-account").textContent.startsWith("0x"));

  // not JSONL: refused in the page, nothing uploaded
  await pick(plan.bad_file);
  await upload();
  await shot("refused", await dataset());
  // a good file with only the wallet: uploads need a dev key
  await pick(plan.dataset);
  await upload();
  await shot("wallet-only", await dataset());

  await page.fill("#devkey", plan.dev_key);
  await page.click("#import-key");
  await page.waitForFunction(() => document.querySelector("#key-account").textContent.startsWith("vcoin1"));
  await upload();
  await shot("uploaded", await dataset());

  out.steps.models = await page.$$eval("#train-model option", (o) => o.map((x) => x.value));
  await page.fill("#train-steps", plan.steps);
  await page.click("#train");
  await page.waitForFunction(
    () => /^(settled|rejected|cancelled|expired|failed)$/.test(document.querySelector("#train-state").textContent) ||
      document.querySelector("#train-state").classList.contains("bad"),
    null,
    { timeout: plan.job_timeout_ms || 240000 },
  );
  await shot("trained", {
    job_id: await text(page, "#train-id"),
    state: await text(page, "#train-state"),
    log: await page.$$eval("#train-log li", (li) => li.map((x) => x.textContent)),
    adapter: await text(page, "#train-adapter"),
    adapter_href: await page.$eval("#train-adapter", (e) => e.querySelector("a")?.href || ""),
  });

  // bond the wallet as a worker through the staking precompile
  await page.selectOption("#bond-from", "eth");
  await page.fill("#bond-amount", plan.bond_amount);
  await page.click("#bond");
  await page.waitForFunction(() => document.querySelector("#bond-status").textContent.startsWith("bonded ") ||
    document.querySelector("#bond-status").classList.contains("bad"));
  const status = await text(page, "#bond-status");
  if (status.startsWith("bonded ")) {
    await page.waitForFunction(
      (a) => Boolean(document.querySelector(`#balances tr[data-address="${a}"] .bonds`)?.textContent.includes("worker")),
      plan.eth_bech32,
    );
  }
  await shot("bonded-wallet", { status, calls: await page.evaluate(() => window.ethereum.calls) });
  await context.close();
} catch (e) {
  out.errors.push(`driver: ${e.message}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
