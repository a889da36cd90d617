// Drives headless Chromium (the system's) through the web console for
// tests/app/test_console_browser.py, which makes the plan and asserts on what this prints.
//
//   node console.mjs PLAN.json   ->  one JSON document on stdout
//
// PLAN: {"url": "http://…/explorer/console.html", "chromium": "…", "out": "DIR",
//        "eth_key": "<hex>", "send_to": "0x…", "send_amount": "1.5", "erc20_amount": "0.5",
//        "send_total": "2", "dev_key": "<hex>",
//        "bond_amount": "100"}
// The test EIP-1193 provider (eip1193.js, the stand-in for MetaMask) is injected as
// window.ethereum with eth_key. Then: connect the wallet, send VCN through it (a value
// transfer, then VCoin.sol's transfer), post a job through it (JobMarket.sol) and watch it
// to a final state, import the dev key, post a job with it, bond it as a worker (MsgBond). Each step saves a
// screenshot (DIR/console-STEP.png) and reports the texts the user sees.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const out = { steps: {}, errors: [] };
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
  page.setDefaultTimeout(plan.timeout_ms || 30000);
  const shot = async (name, extra = {}) => {
    await page.screenshot({ path: join(plan.out, `console-${name}.png`), fullPage: true });
    out.steps[name] = {
      wallet: await text(page, "#wallet-status"),
      balances: await page.$$eval("#balances tr", (rows) =>
        rows.map((r) => ({ address: r.dataset.address, text: r.textContent, balance: r.querySelector(".balance").textContent, bonds: r.querySelector(".bonds").textContent })),
      ),
      ...extra,
    };
  };
  const settledRow = (address, field, needle) =>
    page.waitForFunction(
      ([a, f, n]) => {
        const t = document.querySelector(`#balances tr[data-address="${a}"] .${f}`)?.textContent;
        return f === "balance" ? t === `${n}VCN` : Boolean(t?.includes(n));
      },
      [address, field, needle],
    );

  await page.goto(plan.url);
  await page.waitForSelector("#console[data-ready]");
  await page.click("#connect-eth");
  await page.waitForFunction(() => document.querySelector("#eth-account").textContent.startsWith("0x"));
  await shot("connected", {
    account: await text(page, "#eth-account"),
    calls: await page.evaluate(() => window.ethereum.calls),
  });

  const sendVcn = async (name, amount, erc20, total) => {
    await page.selectOption("#send-from", "eth");
    await page.fill("#send-to", plan.send_to);
    await page.fill("#send-amount", amount);
    await page.setChecked("#send-erc20", erc20);
    await page.evaluate(() => { document.querySelector("#send-status").textContent = ""; });
    await page.click("#send");
    await page.waitForFunction(() => document.querySelector("#send-status").textContent.startsWith("sent ") ||
      document.querySelector("#send-status").classList.contains("bad"));
    const status = await text(page, "#send-status");
    if (status.startsWith("sent ")) await settledRow(plan.send_to_bech32, "balance", total);
    await shot(name, { status, calls: await page.evaluate(() => window.ethereum.calls) });
  };
  // a value transfer, then VCoin.sol's transfer, both through the wallet
  await sendVcn("sent", plan.send_amount, false, plan.send_amount);
  await sendVcn("sent-erc20", plan.erc20_amount, true, plan.send_total);

  const postJob = async (name, from) => {
    await page.selectOption("#job-from", from);
    await page.click("#post-job");
    await page.waitForFunction(
      () => /^(settled|rejected|cancelled|expired|failed)$/.test(document.querySelector("#job-state").textContent) ||
        document.querySelector("#job-state").classList.contains("bad"),
      null,
      { timeout: plan.job_timeout_ms || 60000 },
    );
    await shot(name, {
      job_id: await text(page, "#job-id"),
      state: await text(page, "#job-state"),
      log: await page.$$eval("#job-log li", (li) => li.map((x) => x.textContent)),
      key: await text(page, "#key-account"),
    });
  };
  // a job through the wallet (JobMarket.sol's post), then one with an imported dev key
  await postJob("job-wallet", "eth");
  await page.fill("#devkey", plan.dev_key);
  await page.click("#import-key");
  await page.waitForFunction(() => document.querySelector("#key-account").textContent.startsWith("vcoin1"));
  await postJob("job", "key");

  await page.selectOption("#bond-from", "key");
  await page.fill("#bond-amount", plan.bond_amount);
  await page.click("#bond");
  await page.waitForFunction(() => /^bonded |error|fail|insufficient/i.test(document.querySelector("#bond-status").textContent) || document.querySelector("#bond-status").classList.contains("bad"));
  const bondStatus = await text(page, "#bond-status");
  if (bondStatus.startsWith("bonded ")) await settledRow(plan.dev_bech32, "bonds", "worker");
  await shot("bonded", { status: bondStatus });
  // a dev key from a BIP-39 mnemonic replaces the hex one
  await page.fill("#devkey", plan.mnemonic);
  await page.click("#import-key");
  await page.waitForFunction((k) => !document.querySelector("#key-account").textContent.startsWith(k), plan.dev_bech32);
  out.steps.mnemonic = { key: await text(page, "#key-account"), field: await page.inputValue("#devkey") };
  // the same page on a phone: nothing wider than the screen
  await page.setViewportSize({ width: 390, height: 844 });
  await shot("phone", {
    overflow: await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
  });
  await context.close();
} catch (e) {
  out.errors.push(`driver: ${e.message}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
