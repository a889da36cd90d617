// The web console (console.html): a wallet and jobs in the browser, built on the
// TypeScript SDK (console/vcoin-sdk.js, bundled from sdk/js by sdk/js/scripts/bundle.mjs).
//
// Two signers: a wallet through EIP-1193 (window.ethereum, e.g. MetaMask: its account is
// an eth_secp256k1 account; chain 0x5643; txs go to the node's EVM by eth_sendTransaction)
// and a dev key (mnemonic or hex, in this page's memory only; Cosmos txs signed by the SDK).
// The page is marked main[data-ready] once the SDK and config.json are loaded.
//
// Datasets and training: a JSONL file picked in the page becomes the lora-train input
// ({"texts": [...], "eval_texts": [...]}, compute/runtime/spec.py), hashed here with
// crypto.subtle and PUT to the node's artifact store (/artifacts/{sha256}) with an upload
// token signed by the dev key (the SDK's artifactToken: b64url(payload).b64url(r||s), see
// chain/artifact_auth.py); then a lora-train job on that hash, watched until it settles,
// shows the adapter's hash. A wallet cannot make that token (personal_sign signs other
// bytes), so uploads need a dev key. Bonding through the wallet calls the staking
// precompile (IStaking.bond at 0x...0801) by eth_sendTransaction.

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
  for (const id of ["send-from", "job-from", "bond-from"]) {
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
  await watchJob(jobId, "job-state", "job-log");
  refresh();
}

/** Show job `jobId`'s states in `stateId` and, one line each, in `logId` until it is final. */
async function watchJob(jobId, stateId, logId) {
  let last = "";
  for (;;) {
    const job = await client.job(jobId);
    if (job.state !== last) {
      last = job.state;
      say(stateId, last);
      const li = document.createElement("li");
      li.dataset.state = last;
      li.textContent = `${last}${job.worker ? ` (worker ${job.worker})` : ""} at ${new Date().toTimeString().slice(0, 8)}`;
      $(logId).append(li);
    }
    if (sdk.FINAL_JOB_STATES.includes(last)) return job;
    await new Promise((r) => setTimeout(r, 400));
  }
}

const STAKING = "0x0000000000000000000000000000000000000801";

/** IStaking.bond(address account, string role, uint256 amount): head, then the string. */
function stakingBond(account, role, avcn) {
  const head = word(BigInt(sdk.toEthAddress(account))) + word(96) + word(avcn);
  return `0x${selector("bond(address,string,uint256)")}${head}${dynBytes(utf8(role))}`;
}

async function bond() {
  const avcn = avcnOf($("bond-amount").value);
  if ($("bond-from").value === "eth") {
    say("bond-status", "bonding through the wallet…");
    const { hash, rcpt } = await ethSend({ to: STAKING, data: stakingBond(eth.address.hex, "worker", avcn) });
    const now = await client.bond(eth.address.bech32, "worker");
    say("bond-status", `bonded ${sdk.formatVcn(avcn)} as a worker through the wallet (staking precompile) in EVM tx ${hash} ` +
      `(block ${Number(rcpt.blockNumber)}); the wallet's worker bond is now ${sdk.formatVcn(now.bonded)}`);
  } else {
    if (!devKey) throw new Error("import a dev key or connect a wallet first");
    say("bond-status", "bonding…");
    const tx = await client.bondStake(devKey, "worker", avcn);
    say("bond-status", `bonded ${sdk.formatVcn(avcn)} as a worker in tx ${tx.hash} (block ${tx.height})`);
  }
  refresh();
}

// -- datasets and training -------------------------------------------------------------
const MAX_TEXTS = 256; // compute/runtime/spec.py MAX_ITEMS, per list
const MAX_TEXT_CHARS = 16 * 1024;
const MAX_DATASET_BYTES = 64 * 1024 * 1024; // the runtime's input artifact limit
let dataset = null; // {sha256, texts, evalTexts, size, name}

/** A JSONL file's text -> the lora-train input; an Error naming the first bad line. */
function parseJsonl(text, name) {
  const texts = [];
  const evalTexts = [];
  const lines = text.split(/\r?\n/);
  const refuse = (i, why) => new Error(`${name} is not a JSONL dataset: line ${i + 1} ${why}. ` +
    'Each line must be a JSON object like {"text": "…"} (or a JSON string).');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let v;
    try {
      v = JSON.parse(line);
    } catch {
      throw refuse(i, "is not JSON");
    }
    const split = v && typeof v === "object" && !Array.isArray(v) ? v.split ?? "train" : "train";
    const t = typeof v === "string" ? v : v && typeof v === "object" && !Array.isArray(v) ? v.text : undefined;
    if (typeof t !== "string" || !t) throw refuse(i, 'has no "text" string');
    if (t.length > MAX_TEXT_CHARS) throw refuse(i, `has a text over ${MAX_TEXT_CHARS} characters`);
    if (split !== "train" && split !== "eval") throw refuse(i, 'has a "split" other than "train" or "eval"');
    (split === "eval" ? evalTexts : texts).push(t);
  });
  if (!texts.length) throw new Error(`${name} has no training texts (lines with "split": "eval" are held out)`);
  if (texts.length > MAX_TEXTS || evalTexts.length > MAX_TEXTS) {
    throw new Error(`${name} has ${texts.length} training and ${evalTexts.length} held-out texts; at most ${MAX_TEXTS} of each`);
  }
  return { texts, evalTexts };
}

const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));

/**
 * The artifact store's token for `op` ("put" | "get") on blob `digest`, signed by `key`
 * (the SDK's artifactToken, byte for byte with sdk/vectors/artifact_tokens.json):
 * b64url(payload).b64url(r||s), payload = {"exp","op","pub","sha256","v":1} with sorted
 * keys and no spaces, signed over sha256(payload) (keccak256 for an eth_secp256k1 key).
 */
const artifactToken = async (key, op, digest) => sdk.artifactToken(key, op, digest);

/** PUT `body` to /artifacts/{digest} with the dev key's token, reporting progress. */
function putArtifact(digest, body, token, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `${location.origin}/artifacts/${digest}`);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.setRequestHeader("authorization", `VCoin-Artifact ${token}`);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new Error("the upload failed: the node did not answer"));
    xhr.onload = () => {
      if (xhr.status < 300) return resolve(JSON.parse(xhr.responseText || "{}"));
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON: the status says it */
      }
      reject(new Error(`the artifact store refused the upload (${xhr.status} ${body.error || ""}): ${body.message || xhr.statusText}`));
    };
    xhr.send(body);
  });
}

function progress(fraction, text) {
  $("ds-progress").value = Math.round(fraction * 100);
  say("ds-status", text);
}

async function uploadDataset() {
  const file = $("ds-file").files[0];
  dataset = null;
  $("ds-hash").textContent = "–";
  progress(0, "");
  if (!file) throw new Error("pick a JSONL file first");
  if (file.size > MAX_DATASET_BYTES) throw new Error(`${file.name} is over ${MAX_DATASET_BYTES / 2 ** 20} MiB`);
  const { texts, evalTexts } = parseJsonl(await file.text(), file.name);
  if (!devKey) {
    throw new Error("uploads are signed with a dev key: import one (a wallet cannot sign the artifact store's token)");
  }
  const doc = evalTexts.length ? { texts, eval_texts: evalTexts } : { texts };
  const body = utf8(JSON.stringify(doc));
  progress(0, "hashing…");
  const digest = hexOf(await sha256(body));
  const token = await artifactToken(devKey, "put", digest);
  progress(0, "uploading…");
  await putArtifact(digest, body, token, (f) => progress(f, `uploading ${Math.round(f * 100)} %`));
  dataset = { sha256: digest, texts: texts.length, evalTexts: evalTexts.length, size: body.length, name: file.name };
  $("ds-hash").textContent = digest;
  progress(1, `uploaded ${file.name}: ${texts.length} training and ${evalTexts.length} held-out texts, ${body.length} bytes`);
}

async function train() {
  if (!devKey) throw new Error("import a dev key first (it signs the dataset upload and the job)");
  if (!dataset) throw new Error("upload a dataset first");
  const steps = Number($("train-steps").value);
  const rank = Number($("train-rank").value);
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new Error("steps: a whole number from 1 to 1000");
  if (!Number.isInteger(rank) || rank < 1 || rank > 64) throw new Error("rank: a whole number from 1 to 64");
  const params = { steps, rank, alpha: 2 * rank, batch_size: Math.min(4, dataset.texts), max_length: 64 };
  $("train-log").replaceChildren();
  $("train-id").textContent = "–";
  $("train-adapter").replaceChildren("–");
  say("train-state", "posting…");
  const { jobId } = await client.postJob(devKey, {
    taskType: "lora-train",
    model: $("train-model").value,
    inputHash: dataset.sha256,
    spec: { params },
    maxPrice: avcnOf($("train-price").value),
  });
  if (jobId === null) throw new Error("the tx has no JobPosted event");
  $("train-id").textContent = String(jobId);
  const job = await watchJob(jobId, "train-state", "train-log");
  if (job.state === "settled" && job.output_hash) {
    const link = document.createElement("a");
    link.textContent = job.output_hash;
    link.title = "the LoRA adapter (safetensors); the link carries a download token signed by the dev key";
    link.href = `${location.origin}/artifacts/${job.output_hash}?token=${await artifactToken(devKey, "get", job.output_hash)}`;
    $("train-adapter").replaceChildren(link);
  }
  refresh();
}

async function loadModels() {
  const r = await fetch(`${location.origin}/vcoin/jobs/v1/models`);
  const models = r.ok ? (await r.json()).models : [];
  const lm = models.filter((m) => (m.task_types || []).includes("lora-train"));
  $("train-model").replaceChildren(...lm.map((m) => new Option(`${m.id} (lora-train)`, m.id)));
  if (!lm.length) $("train-model").append(new Option("no registered model takes lora-train", ""));
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
  action("ds-upload", "ds-status", uploadDataset);
  action("train", "train-state", train);
  await loadModels().catch(() => {});
  setInterval(refresh, 1000);
  $("console").dataset.ready = "1";
}

main();
