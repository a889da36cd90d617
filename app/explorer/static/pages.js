// Block, transaction and job pages.

import { ApiError, attrs, eth, moduleRead, rest, rpc, txSearch } from "./api.js";
import { blockResults } from "./home.js";
import { addrLink, blockLink, esc, eventsTable, jobLink, kv, table, txLink, vcn } from "./util.js";

export class NotFound extends Error {}

export async function renderBlock(view, height) {
  const [blk, txs, ethBlock] = await Promise.all([
    rpc("block", { height: String(height) }).catch(() => null),
    txSearch(`tx.height=${height}`, 100, "asc").catch(() => []),
    eth("eth_getBlockByNumber", ["0x" + Number(height).toString(16), false]).catch(() => null),
  ]);
  if (!blk?.block) throw new NotFound(`no block at height ${height}`);
  const [res] = await blockResults(height, height);
  const h = blk.block.header;
  const prev = Number(height) > 1 ? `<a href="#/block/${Number(height) - 1}">← ${Number(height) - 1}</a>` : "";
  const next = `<a href="#/block/${Number(height) + 1}">${Number(height) + 1} →</a>`;
  const rows = txs.map((t) => {
    const ev = (t.tx_result?.events || []).find((e) => e.type === "ethereum_tx");
    const actions = (t.tx_result?.events || []).filter((e) => e.type === "message").map((e) => attrs(e).action?.split(".").pop());
    return [txLink(t.hash), ev ? txLink(attrs(ev).hash) : "", esc(actions.join(", ")), t.tx_result?.code === 0 ? "ok" : `<span class="bad">code ${esc(t.tx_result?.code)}</span>`];
  });
  view.innerHTML = `
    <h1>Block ${esc(height)} <span class="nav-small">${prev} ${next}</span></h1>
    ${kv([
      ["Height", esc(h.height)],
      ["Time", esc(h.time)],
      ["Hash", `<span class="mono">${esc(blk.block_id.hash)}</span>`],
      ["Proposer", `<span class="mono">${esc(h.proposer_address)}</span>`],
      ["App hash", `<span class="mono">${esc(h.app_hash)}</span>`],
      ["Chain", esc(h.chain_id)],
      ["Transactions", esc((blk.block.data.txs || []).length)],
      ["EVM transactions", ethBlock ? esc(ethBlock.transactions.length) : ""],
      ["Gas used (EVM)", ethBlock ? esc(Number(ethBlock.gasUsed)) : ""],
    ])}
    <h2>Transactions</h2>${table(["Hash", "Ethereum hash", "Messages", "Result"], rows)}
    <h2>Block events</h2><div class="events">${eventsTable(res?.finalize_block_events) || '<p class="muted">none</p>'}</div>`;
}

function messagesHtml(msgs) {
  return (msgs || [])
    .map((m) => {
      const { "@type": type, ...rest } = m;
      // bytes fields arrive as base64: show a job's inline input as the text it is
      if (typeof rest.inline_input === "string" && rest.inline_input) {
        try {
          rest.inline_input = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(atob(rest.inline_input), (c) => c.charCodeAt(0)));
        } catch {
          /* not text: keep the base64 */
        }
      }
      return `<div class="msg"><div class="tag">${esc(type)}</div><pre>${esc(JSON.stringify(rest, null, 2))}</pre></div>`;
    })
    .join("");
}

async function renderEthTx(view, hash) {
  const [tx, receipt] = await Promise.all([
    eth("eth_getTransactionByHash", [hash]),
    eth("eth_getTransactionReceipt", [hash]),
  ]);
  if (!tx) return false;
  const height = tx.blockNumber ? Number(tx.blockNumber) : null;
  let cosmosHash = "";
  if (height) {
    const found = await txSearch(`ethereum_tx.hash='${hash.toLowerCase()}'`, 1).catch(() => []);
    cosmosHash = found[0]?.hash || "";
  }
  const ok = receipt ? (receipt.status === "0x1" ? `<span class="good">success</span>` : `<span class="bad">reverted</span>`) : "pending";
  const logs = (receipt?.logs || []).map((l) => [
    esc(Number(l.logIndex)),
    addrLink(l.address),
    `<span class="mono small">${(l.topics || []).map(esc).join("<br>")}</span>`,
    `<span class="mono small">${esc(l.data)}</span>`,
  ]);
  view.innerHTML = `
    <h1>EVM transaction</h1>
    ${kv([
      ["Hash", `<span class="mono">${esc(hash)}</span>`],
      ["Status", ok],
      ["Block", height ? blockLink(height) : "pending"],
      ["From", addrLink(tx.from)],
      ["To", tx.to ? addrLink(tx.to) : "contract creation"],
      ["Contract created", receipt?.contractAddress ? addrLink(receipt.contractAddress) : ""],
      ["Value", vcn(BigInt(tx.value).toString())],
      ["Nonce", esc(Number(tx.nonce))],
      ["Gas used", receipt ? esc(Number(receipt.gasUsed)) : ""],
      ["Gas price", esc(BigInt(receipt?.effectiveGasPrice || tx.gasPrice || "0x0").toString()) + " avcn"],
      ["Cosmos tx", cosmosHash ? txLink(cosmosHash) : ""],
      ["Input", `<span class="mono small wrap">${esc(tx.input)}</span>`],
    ])}
    <h2>Logs</h2>${table(["#", "Address", "Topics", "Data"], logs)}`;
  return true;
}

export async function renderTx(view, hash) {
  const clean = hash.replace(/^0x/i, "");
  let found = null;
  try {
    found = await rpc("tx", { hash: "0x" + clean.toUpperCase() });
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
  }
  if (!found) {
    if (await renderEthTx(view, "0x" + clean.toLowerCase())) return;
    throw new NotFound(`no transaction ${hash}`);
  }
  const decoded = await rest(`/cosmos/tx/v1beta1/txs/${found.hash}`).catch(() => null);
  const r = found.tx_result;
  const evs = r.events || [];
  const ethEv = evs.find((e) => e.type === "ethereum_tx");
  const body = decoded?.tx?.body;
  const fee = decoded?.tx?.auth_info?.fee;
  const jobIds = [...new Set(evs.map((e) => attrs(e).job_id).filter(Boolean))];
  const logs = evs.filter((e) => e.type === "tx_log").map((e) => {
    const a = attrs(e);
    return [esc(a.index), addrLink(a.address), `<span class="mono small">${(a.topics || "").split(",").map(esc).join("<br>")}</span>`, `<span class="mono small">${esc(a.data)}</span>`];
  });
  view.innerHTML = `
    <h1>Transaction</h1>
    ${kv([
      ["Hash", `<span class="mono">${esc(found.hash)}</span>`],
      ["Result", r.code === 0 ? `<span class="good">success</span>` : `<span class="bad">failed: code ${esc(r.code)} (${esc(r.codespace)}) ${esc(r.log)}</span>`],
      ["Block", blockLink(found.height)],
      ["Gas", `${esc(r.gas_used)} / ${esc(r.gas_wanted)}`],
      ["Fee", fee ? esc((fee.amount || []).map((c) => vcn(c.amount)).join(", ")) : ""],
      ["Memo", body?.memo ? esc(body.memo) : ""],
      ["Ethereum tx", ethEv ? `${txLink(attrs(ethEv).hash)} (status ${attrs(ethEv).status === "1" ? "success" : "reverted"})` : ""],
      ["Jobs", jobIds.map(jobLink).join(" ")],
    ])}
    <h2>Messages</h2>${messagesHtml(body?.messages) || '<p class="muted">not decoded</p>'}
    ${logs.length ? `<h2>EVM logs</h2>${table(["#", "Address", "Topics", "Data"], logs)}` : ""}
    <h2>Events</h2><div class="events">${eventsTable(evs)}</div>`;
}

// -- job ----------------------------------------------------------------------------------

export async function jobRecord(id) {
  const out = await moduleRead(`/vcoin/jobs/v1/jobs/${id}`, "jobs", "job", { id: String(id) });
  return out?.job ?? out;
}

const STEPS = ["posted", "claimed", "submitted", "sampled", "attested", "settled"];

export async function renderJob(view, id) {
  const job = await jobRecord(id);
  if (!job) throw new NotFound(`no job ${id}`);
  const ver = await moduleRead(`/vcoin/verification/v1/attestations/${id}`, "verification", "status", { job_id: String(id) }).catch(() => null);
  const tally = ver && (ver.attestations || []).length
    ? `${ver.attestations.length} attestation(s): pass ${vcn(ver.pass_stake)}, fail ${vcn(ver.fail_stake)} of ${vcn(ver.oracle_stake)} oracle stake`
    : "";
  const txs = await txSearch(`JobPosted.job_id=${id}`, 5, "asc")
    .then(async (posted) => {
      const more = await Promise.all(
        ["JobClaimed", "ResultSubmitted", "Attested", "JobCancelled", "JobRequeued", "JobFailed"].map((t) =>
          txSearch(`${t}.job_id=${id}`, 50, "asc").catch(() => []),
        ),
      );
      return [...posted, ...more.flat()];
    })
    .catch(() => []);
  const steps = [];
  const seen = new Set();
  let verdict = "";
  const add = (name, height, detail, hash = "") => {
    const key = `${name}|${height}|${detail}`;
    if (seen.has(key)) return;
    seen.add(key);
    steps.push({ name, height: Number(height) || 0, detail, hash });
  };
  const pct = (bps) => `${(Number(bps) / 100).toFixed(2)} %`;
  const handle = (e, h, hash) => {
    const a = attrs(e);
    if (a.job_id !== String(id)) return;
    const t = e.type;
    if (t === "JobPosted") add("posted", h, `by ${addrLink(a.poster)}, max price ${vcn(a.max_price)}, ${esc(a.model)} (${esc(a.task_type)})`, hash);
    if (t === "JobClaimed") add("claimed", h, `by ${addrLink(a.worker)} at ${vcn(a.price)}`, hash);
    if (t === "ResultSubmitted") add("submitted", h, `output <span class="mono">${esc(a.output_hash.slice(0, 16))}…</span>, ${esc(a.compute_units)} units`, hash);
    if (t === "Attested") add("attested", h, `${addrLink(a.oracle)}: <b>${esc(a.verdict)}</b>, similarity ${pct(a.similarity_bps)}`, hash);
    if (t === "JobRequeued") add("requeued", h, esc(a.reason), hash);
    if (t === "JobCancelled") add("cancelled", h, "by the poster", hash);
    if (t === "JobFailed") add("failed", h, esc(a.reason), hash);
    if (t === "ResultSampled") add("sampled", h, `${a.picked === "true" ? "picked for checking" : "not picked"} (rate ${pct(a.rate_bps)})`);
    if (t === "VerdictReached") {
      verdict = `${a.verdict} (${a.how})`;
      add("verdict", h, `<b>${esc(a.verdict)}</b> by ${esc(a.how)}`);
    }
    if (t === "JobSettled") add("settled", h, `worker ${addrLink(a.worker)} paid for ${esc(a.compute_units)} units at ${vcn(a.price)}`);
    if (t === "FeeBurned") add("burned", h, vcn(a.amount));
    if (t === "TreasuryCredited") add("to treasury", h, vcn(a.amount));
    if (t === "WorkerPaid") add("worker paid", h, vcn(a.amount));
    if (t === "EscrowRefunded") add("refunded", h, `${vcn(a.amount)} to ${addrLink(a.poster)}`);
    if (t === "JobRejected") add("rejected", h, `worker ${addrLink(a.worker)} failed verification`);
    if (t === "JobExpired") add("expired", h, esc(a.reason));
  };
  for (const t of txs) for (const e of t.tx_result.events || []) handle(e, Number(t.height), t.hash);
  // the blocks' own events: the sampling draw, the verdict and the settlement
  const heights = [Number(job.submitted_height) + 1, Number(job.finished_height)].filter((h) => h > 1);
  for (const h of new Set(heights)) {
    const [res] = await blockResults(h, h).catch(() => [null]);
    for (const e of res?.finalize_block_events || []) handle(e, h, "");
  }
  // what the record says, where no event was found (e.g. events pruned)
  const have = new Set(steps.map((s) => s.name));
  if (!have.has("posted")) add("posted", job.posted_height, `by ${addrLink(job.poster)}`);
  if (!have.has("claimed") && Number(job.claimed_height)) add("claimed", job.claimed_height, `by ${addrLink(job.worker)}`);
  if (!have.has("submitted") && Number(job.submitted_height)) add("submitted", job.submitted_height, "");
  const final = { settled: "settled", rejected: "rejected", cancelled: "cancelled", expired: "expired", failed: "failed" }[job.state];
  if (final && !have.has(final) && Number(job.finished_height)) add(final, job.finished_height, "");
  steps.sort((a, b) => a.height - b.height || order(a.name) - order(b.name));

  // The artifact store serves a job's output to anyone only when the poster made the job
  // public ("public": true in its spec); otherwise it needs the token of the poster, the
  // worker or an oracle, so the explorer shows the hash without a link.
  const open = (() => { try { return JSON.parse(job.spec || "{}").public === true; } catch { return false; } })();
  const output = !job.output_hash ? "" : open
    ? `<a class="mono" href="/artifacts/${esc(job.output_hash)}">${esc(job.output_hash)}</a>`
    : `<span class="mono">${esc(job.output_hash)}</span> <small class="muted" id="output-private">private: the poster, its worker and the oracles read it with a signed token</small>`;
  const reached = new Set(steps.map((s) => s.name));
  // the last step is how the job ended: settled, or rejected, refunded, expired…
  const end = final && final !== "settled" ? final : "settled";
  const progress = [...STEPS.slice(0, -1), end].map((s) => `<li class="${reached.has(s) ? "done" : ""}">${s}</li>`).join("");
  view.innerHTML = `
    <h1>Job ${jobLink(id)} <span class="state state-${esc(job.state)}" id="job-state">${esc(job.state)}</span></h1>
    <ol class="progress">${progress}</ol>
    ${kv([
      ["Poster", addrLink(job.poster)],
      ["Worker", job.worker ? addrLink(job.worker) : ""],
      ["Model", esc(job.model)],
      ["Task", esc(job.task_type)],
      ["Max price", vcn(job.max_price)],
      ["Price", Number(job.price) ? vcn(job.price) : ""],
      ["Paid to worker", Number(job.paid) ? vcn(job.paid) : ""],
      ["Burned", Number(job.burned) ? vcn(job.burned) : ""],
      ["Refunded", Number(job.refunded) ? vcn(job.refunded) : ""],
      ["Output", output],
      ["Verdict", esc(verdict)],
      ["Oracles", tally],
      ["Input", job.inline_text ? `<pre class="small">${esc(job.inline_text.slice(0, 500))}</pre>` : `<span class="mono">${esc(job.input_hash)}</span>`],
    ])}
    <h2>Timeline</h2>
    <ol class="timeline" id="timeline">${steps
      .map((s) => `<li class="step step-${esc(s.name.replace(/ /g, "-"))}"><span class="when">${s.height ? blockLink(s.height) : ""}</span> <b>${esc(s.name)}</b> ${s.detail} ${s.hash ? txLink(s.hash) : ""}</li>`)
      .join("")}</ol>`;
}

const ORDER = ["posted", "claimed", "requeued", "submitted", "sampled", "attested", "verdict", "settled", "rejected", "burned", "to treasury", "worker paid", "refunded"];
const order = (n) => (ORDER.includes(n) ? ORDER.indexOf(n) : 99);

