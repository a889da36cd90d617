// The web console (console.html): a wallet and jobs in the browser, built on the
// TypeScript SDK (console/vcoin-sdk.js, bundled from sdk/js by sdk/js/scripts/bundle.mjs).
//
// Two signers: a wallet through EIP-1193 (window.ethereum, e.g. MetaMask: its account is
// an eth_secp256k1 account; chain 0x5643; txs go to the node's EVM by eth_sendTransaction)
// and a dev key (mnemonic or hex, in this page's memory only; Cosmos txs signed by the SDK).
// The page is marked main[data-ready] once the SDK and config.json are loaded.

const EVM_CHAIN_ID = "0x5643";
const $ = (id) => document.getElementById(id);
let sdk = null;
let client = null;
let ethUrl = "";
let eth = null; // {provider, address: {bech32, hex}}
let devKey = null; // the SDK's Key
const watched = new Map(); // bech32 -> label

function endpoint(e) {
  if (!e) return "";
  if (e.url) return e.url;
  const host = e.host || location.hostname;
  return `${location.protocol}//${host.includes(":") ? `[${host}]` : host}:${e.port}`;
}

function say(id, text, bad = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("bad", bad);
}

function why(e) {
  return e?.message || String(e);
}

function avcnOf(text) {
  const t = String(text).trim();
  return sdk.parseAmount(/^[0-9.]+$/.test(t) ? `${t}VCN` : t);
}

async function ethRpc(method, params = []) {
  const r = await fetch(ethUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await r.json();
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

async function waitReceipt(hash, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const rcpt = await ethRpc("eth_getTransactionReceipt", [hash]);
    if (rcpt) return rcpt;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`no receipt for ${hash} after ${timeoutMs / 1000} s`);
}

// -- signers -------------------------------------------------------------------------
function signers() {
  const out = [];
  if (devKey) out.push(["key", `dev key ${devKey.bech32}`]);
  if (eth) out.push(["eth", `wallet ${eth.address.hex}`]);
  return out;
}

function fillSelects() {
  for (const id of ["send-from", "job-from"]) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren(...signers().map(([v, label]) => new Option(label, v)));
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  }
}

function watch(address, label) {
  const b = sdk.toVcoinAddress(address);
  if (!watched.has(b) || label) watched.set(b, label || watched.get(b) || "");
  refresh();
}

async function connectEth() {
  const provider = window.ethereum;
  if (!provider) throw new Error("no wallet in this browser (window.ethereum): install MetaMask or import a dev key");
  const address = await sdk.ethAccount(provider);
  let chain = String(await provider.request({ method: "eth_chainId" })).toLowerCase();
  if (chain !== EVM_CHAIN_ID) {
    try {
      await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: EVM_CHAIN_ID }] });
    } catch (e) {
      if (e?.code !== 4902) throw e; // 4902: the wallet does not know the chain yet
      await provider.request({
        method: "wallet_addEthereumChain",
        params: [{
          chainId: EVM_CHAIN_ID,
          chainName: "VCoin",
          nativeCurrency: { name: "VCoin", symbol: "VCN", decimals: 18 },
          rpcUrls: [ethUrl],
          blockExplorerUrls: [new URL("./", location.href).href],
        }],
      });
      await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: EVM_CHAIN_ID }] });
    }
    chain = String(await provider.request({ method: "eth_chainId" })).toLowerCase();
    if (chain !== EVM_CHAIN_ID) throw new Error(`the wallet stayed on chain ${chain}`);
  }
  eth = { provider, address };
  provider.on?.("accountsChanged", (accs) => {
    if (accs?.length) {
      eth.address = { bech32: sdk.toVcoinAddress(accs[0]), hex: sdk.toEthAddress(accs[0]) };
      $("eth-account").textContent = `${eth.address.hex} · ${eth.address.bech32}`;
      watch(eth.address.bech32, "wallet");
    }
  });
  $("eth-account").textContent = `${address.hex} · ${address.bech32}`;
  say("wallet-status", `wallet connected on chain ${chain}`);
  fillSelects();
  watch(address.bech32, "wallet");
}

async function importKey() {
  const text = $("devkey").value.trim();
  $("devkey").value = "";
  const hex = text.replace(/^0x/, "");
  devKey = /^[0-9a-fA-F]{64}$/.test(hex) ? sdk.Key.fromPrivateKey(hex) : await sdk.Key.fromMnemonic(text);
  $("key-account").textContent = `${devKey.bech32} · ${devKey.hex}`;
  say("wallet-status", "dev key imported (in memory only: a reload forgets it)");
  fillSelects();
  watch(devKey.bech32, "dev key");
}

// -- actions -------------------------------------------------------------------------
async function send() {
  const to = $("send-to").value.trim();
  const avcn = avcnOf($("send-amount").value);
  sdk.parseAddress(to);
  say("send-status", "sending…");
  if ($("send-from").value === "eth") {
    const erc20 = $("send-erc20").checked;
    const tx = erc20 ? { to: VCOIN_ERC20, data: erc20Transfer(to, avcn) } : { to: sdk.toEthAddress(to), value: `0x${avcn.toString(16)}` };
    const { hash, rcpt } = await ethSend(tx);
    const how = erc20 ? "VCoin.sol transfer" : "EVM tx";
    say("send-status", `sent ${sdk.formatVcn(avcn)} in ${how} ${hash} (block ${Number(rcpt.blockNumber)})`);
  } else {
    if (!devKey) throw new Error("import a dev key or connect a wallet first");
    const tx = await client.send(devKey, to, avcn);
    say("send-status", `sent ${sdk.formatVcn(avcn)} in tx ${tx.hash} (block ${tx.height})`);
  }
  watch(to, "");
}

// -- the EVM contracts (contracts/src): ABI encoding by hand, keccak from the SDK bundle
const VCOIN_ERC20 = "0x0000000000000000000000000000000000000c01";
const JOB_MARKET = "0x0000000000000000000000000000000000000c02";
const utf8 = (t) => new TextEncoder().encode(t);
const hexOf = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const selector = (sig) => hexOf(sdk.keccak_256(utf8(sig)).slice(0, 4));
const word = (n) => BigInt(n).toString(16).padStart(64, "0");
const dynBytes = (b) => word(b.length) + hexOf(b).padEnd(Math.ceil(b.length / 32) * 64, "0");

function erc20Transfer(to, avcn) {
  return `0x${selector("transfer(address,uint256)")}${word(BigInt(sdk.toEthAddress(to)))}${word(avcn)}`;
}

/** JobMarket.post(IJobs.JobRequest): one dynamic tuple, its 5 dynamic fields after the head. */
function jobMarketPost(req) {
  const fields = [utf8(req.taskType), utf8(req.model), utf8(""), utf8(req.input), utf8("")];
  let head = "";
  let tail = "";
  const headWords = 9;
  for (const f of fields) {
    head += word(headWords * 32 + tail.length / 2);
    tail += dynBytes(f);
  }
  head += word(req.maxPrice) + word(0) + word(0) + word(0); // maxPrice, priority, claim/result blocks
  const sig = "post((string,string,string,bytes,string,uint256,uint32,uint64,uint64))";
  return `0x${selector(sig)}${word(32)}${head}${tail}`;
}

async function ethSend(tx) {
  const hash = await eth.provider.request({ method: "eth_sendTransaction", params: [{ from: eth.address.hex, ...tx }] });
  const rcpt = await waitReceipt(hash);
  if (rcpt.status !== "0x1") throw new Error(`EVM tx ${hash} failed (reverted)`);
  return { hash, rcpt };
}

async function postJob() {
  const req = {
    taskType: "text-generation",
    model: $("job-model").value.trim(),
    maxPrice: avcnOf($("job-price").value),
    input: JSON.stringify({ prompts: [$("job-prompt").value] }),
  };
  $("job-log").replaceChildren();
  $("job-id").textContent = "–";
  say("job-state", "posting…");
  let jobId;
  if ($("job-from").value === "eth") {
    const { rcpt } = await ethSend({ to: JOB_MARKET, data: jobMarketPost(req) });
    const topic = `0x${hexOf(sdk.keccak_256(utf8("JobPosted(uint64,address,string,string,uint256)")))}`;
    const log = rcpt.logs.find((l) => l.address.toLowerCase() === JOB_MARKET && l.topics[0] === topic);
    if (!log) throw new Error("the JobMarket tx has no JobPosted log");
    jobId = BigInt(log.topics[1]);
  } else {
    if (!devKey) throw new Error("import a dev key or connect a wallet first");
    ({ jobId } = await client.postJob(devKey, req));
    if (jobId === null) throw new Error("the tx has no JobPosted event");
  }
  $("job-id").textContent = String(jobId);
  let last = "";
  for (;;) {
    const job = await client.job(jobId);
    if (job.state !== last) {
      last = job.state;
      say("job-state", last);
      const li = document.createElement("li");
      li.dataset.state = last;
      li.textContent = `${last}${job.worker ? ` (worker ${job.worker})` : ""} at ${new Date().toTimeString().slice(0, 8)}`;
      $("job-log").append(li);
    }
    if (sdk.FINAL_JOB_STATES.includes(last)) break;
    await new Promise((r) => setTimeout(r, 400));
  }
  refresh();
}

async function bond() {
  if (!devKey) throw new Error("import a dev key first (bonding through the wallet is not in the console yet)");
  const avcn = avcnOf($("bond-amount").value);
  say("bond-status", "bonding…");
  const tx = await client.bondStake(devKey, "worker", avcn);
  say("bond-status", `bonded ${sdk.formatVcn(avcn)} as a worker in tx ${tx.hash} (block ${tx.height})`);
  refresh();
}

// -- balances --------------------------------------------------------------------------
let refreshing = false;
async function refresh() {
  if (refreshing || !client) return;
  refreshing = true;
  try {
    const rows = [];
    for (const [b, label] of watched) {
      const [bal, bonds] = await Promise.all([client.balance(b), client.bonds(b).catch(() => [])]);
      const tr = document.createElement("tr");
      tr.dataset.address = b;
      const who = document.createElement("td");
      who.className = "mono";
      who.textContent = `${label ? `${label}: ` : ""}${b} · ${sdk.toEthAddress(b)}`;
      const amt = document.createElement("td");
      amt.className = "balance";
      amt.textContent = sdk.formatVcn(bal);
      const bd = document.createElement("td");
      bd.className = "bonds";
      bd.textContent = bonds.filter((x) => BigInt(x.bonded) > 0n)
        .map((x) => `${x.role} ${sdk.formatVcn(x.bonded)}${x.active ? "" : " (inactive)"}`).join(", ") || "none";
      [who.dataset.label, amt.dataset.label, bd.dataset.label] = ["Account", "Balance", "Bonds"];
      tr.append(who, amt, bd);
      rows.push(tr);
    }
    $("balances").replaceChildren(...rows);
  } finally {
    refreshing = false;
  }
}

function action(buttonId, statusId, fn) {
  $(buttonId).addEventListener("click", async () => {
    $(buttonId).disabled = true;
    try {
      await fn();
    } catch (e) {
      say(statusId, why(e), true);
    } finally {
      $(buttonId).disabled = false;
    }
  });
}

async function main() {
  const cfg = await fetch("config.json", { cache: "no-store" }).then((r) => r.json());
  ethUrl = endpoint(cfg.jsonrpc);
  try {
    sdk = await import("./console/vcoin-sdk.js");
  } catch {
    $("console").prepend(Object.assign(document.createElement("p"), {
      className: "bad",
      textContent: "The SDK bundle is missing: run scripts/setup-sdk-js (it builds console/vcoin-sdk.js).",
    }));
    return;
  }
  client = new sdk.VcoinClient({ rpc: endpoint(cfg.rpc), rest: location.origin });
  action("connect-eth", "wallet-status", connectEth);
  action("import-key", "wallet-status", importKey);
  action("watch-add", "wallet-status", async () => watch($("watch").value.trim(), ""));
  action("send", "send-status", send);
  action("post-job", "job-state", postJob);
  action("bond", "bond-status", bond);
  setInterval(refresh, 1000);
  $("console").dataset.ready = "1";
}

main();
