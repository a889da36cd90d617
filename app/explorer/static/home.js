// The home page: the chain's figures, latest blocks and txs, and charts over the last blocks.

import { attrs, config, custom, moduleRead, rest, rpc, rpcBatch, txSearch } from "./api.js";
import { lineChart } from "./charts.js";
import { ago, blockLink, esc, table, txLink, vcn, vcnNumber } from "./util.js";

export const CHART_BLOCKS = 60;

const amountOf = (v) => BigInt(String(v ?? "0").replace(/avcn$/, "") || "0");

// Block metas (header, block_id, num_txs) of heights lo..hi, newest first. The node RPC
// has no `blockchain` method; one batch of `block` calls does the same.
export async function blockMetas(lo, hi) {
  const calls = [];
  for (let h = hi; h >= lo; h--) calls.push(["block", { height: String(h) }]);
  const out = await rpcBatch(calls);
  return out
    .filter((r) => r?.block)
    .map((r) => ({ header: r.block.header, block_id: r.block_id, num_txs: String((r.block.data.txs || []).length) }));
}

// block_results of heights lo..hi, oldest first (null where the node has none).
export async function blockResults(lo, hi) {
  const calls = [];
  for (let h = lo; h <= hi; h++) calls.push(["block_results", { height: String(h) }]);
  return rpcBatch(calls);
}

// Every event of a block's results: its txs' (successful ones) and the block's own.
export function eventsOf(res) {
  if (!res) return [];
  const txs = (res.txs_results || []).filter((t) => t.code === 0).flatMap((t) => t.events || []);
  return [...txs, ...(res.finalize_block_events || [])];
}

// The newest `n` txs of the last 5,000 blocks: the last 10 blocks first (a busy chain's
// txs are all there: tx_search reads every tx of its range before it pages), then the rest
// of the window when they hold fewer (a quiet chain: the node skips its empty blocks).
export async function latestTxs(top, n) {
  const near = Math.max(1, top - 9);
  const recent = await txSearch(`tx.height>=${near}`, n);
  if (recent.length >= n || near === 1) return recent;
  const older = await txSearch(`tx.height>=${Math.max(1, top - 5000)} AND tx.height<${near}`, n - recent.length);
  return [...recent, ...older];
}

export async function stats() {
  const [supply, minted, jobStats, queued, workers, oracles] = await Promise.all([
    rest(`/cosmos/bank/v1beta1/supply/by_denom?denom=${config().denom}`).catch(() => null),
    moduleRead("/vcoin/mint/v1/minted", "mint", "minted").catch(() => null),
    rest("/vcoin/jobs/v1/stats").catch(() => null),
    moduleRead("/vcoin/jobs/v1/jobs?state=queued&pagination.limit=200", "jobs", "jobs", { state: "queued", limit: 200 }).catch(() => null),
    custom("staking", "active_set", { role: "worker" }).catch(() => null),
    custom("staking", "active_set", { role: "oracle" }).catch(() => null),
  ]);
  const s = jobStats?.stats || jobStats || {};
  return {
    supply: supply?.amount?.amount ?? null,
    minted: minted?.total_minted ?? minted?.minted ?? null,
    burned: s.burned ?? null,
    treasury: s.treasury_balance ?? s.to_treasury ?? null,
    openJobs: s.jobs_open ?? (queued ? (queued.jobs || []).length : null),
    workers: workers ? workers.addresses.length : null,
    oracles: oracles ? oracles.addresses.length : null,
  };
}

function card(label, value, id, href = "") {
  const inner = `<div class="label">${esc(label)}</div><div class="value">${value ?? "–"}</div>`;
  return href ? `<a class="card" id="stat-${id}" href="${href}">${inner}</a>` : `<div class="card" id="stat-${id}">${inner}</div>`;
}

function txRow(t) {
  const evs = t.tx_result?.events || [];
  const ethEv = evs.find((e) => e.type === "ethereum_tx");
  const actions = [...new Set(evs.filter((e) => e.type === "message").map((e) => attrs(e).action?.split(".").pop()))];
  const kind = ethEv ? `<span class="tag evm">EVM</span>` : `<span class="tag">Cosmos</span>`;
  const hash = ethEv ? attrs(ethEv).hash : t.hash;
  const ok = t.tx_result?.code === 0 ? "ok" : `<span class="bad">failed (${t.tx_result?.code})</span>`;
  return [txLink(hash), kind, esc(actions.filter(Boolean).join(", ")), blockLink(t.height), ok];
}

export async function renderHome(view) {
  const figures = stats(); // needs no height: asked while status answers
  const status = await rpc("status");
  const top = Number(status.sync_info.latest_block_height);
  const lo = Math.max(1, top - CHART_BLOCKS + 1);
  const [st, metas, results, txs] = await Promise.all([
    figures,
    blockMetas(lo, top),
    blockResults(lo, top),
    latestTxs(top, 15),
  ]);
  const cards = [
    card("Height", esc(top), "height"),
    card("Supply", st.supply === null ? null : vcn(st.supply), "supply"),
    card("Minted", st.minted === null ? null : vcn(st.minted), "minted"),
    card("Burned", st.burned === null ? null : vcn(st.burned), "burned"),
    card("Treasury", st.treasury === null ? null : vcn(st.treasury), "treasury"),
    card("Open jobs", st.openJobs, "open-jobs"),
    card("Active workers", st.workers, "workers", "#/network"),
    card("Active oracles", st.oracles, "oracles", "#/network"),
  ].join("");

  const blocks = metas.slice(0, 10).map((m) => [
    blockLink(m.header.height),
    esc(ago(m.header.time)),
    esc(m.num_txs),
    `<span class="mono">${esc((m.block_id.hash || "").slice(0, 12))}…</span>`,
  ]);
  view.innerHTML = `
    <section class="cards">${cards}</section>
    <div class="grid2">
      <section><h2>Latest blocks</h2><div id="latest-blocks">${table(["Height", "Time", "Txs", "Hash"], blocks)}</div></section>
      <section><h2>Latest transactions</h2><div id="latest-txs">${table(["Hash", "Kind", "Messages", "Block", "Result"], txs.map(txRow))}</div></section>
    </div>
    <section><h2>Last ${CHART_BLOCKS} blocks</h2><div class="charts">${charts(metas, results, lo, st)}</div></section>`;
}

function charts(metas, results, lo, st) {
  const byHeight = new Map(metas.map((m) => [Number(m.header.height), m]));
  const heights = results.map((_, i) => lo + i);
  const posted = [];
  const settled = [];
  const burnedPer = [];
  const mintedPer = [];
  for (const res of results) {
    const evs = eventsOf(res);
    posted.push(evs.filter((e) => e.type === "JobPosted").length);
    settled.push(evs.filter((e) => e.type === "JobSettled").length);
    let burned = 0n;
    let minted = 0n;
    for (const e of evs) {
      const a = attrs(e);
      if (e.type === "FeeBurned") burned += amountOf(a.amount);
      if (e.type === "Consumed") burned += amountOf(a.burned);
      if (e.type === "Minted" || e.type === "PlatformMinted") minted += amountOf(a.amount);
    }
    burnedPer.push(burned);
    mintedPer.push(minted);
  }
  // supply at each height: today's, less what was minted and plus what was burned since
  const supply = [];
  const burnSum = [];
  let run = st.supply === null ? null : BigInt(st.supply);
  for (let i = heights.length - 1; i >= 0; i--) {
    supply[i] = run === null ? NaN : vcnNumber(run);
    if (run !== null) run = run - mintedPer[i] + burnedPer[i];
  }
  let acc = 0n;
  for (let i = 0; i < heights.length; i++) {
    acc += burnedPer[i];
    burnSum.push(vcnNumber(acc));
  }
  const times = heights.map((h) => {
    const m = byHeight.get(h);
    const p = byHeight.get(h - 1);
    return m && p ? (new Date(m.header.time) - new Date(p.header.time)) / 1000 : NaN;
  });
  return [
    lineChart("Supply and burn (VCN)", heights, [
      { label: "supply", values: supply, cls: "s1" },
      { label: "burned in window", values: burnSum, cls: "s2" },
    ]),
    lineChart("Jobs posted and settled per block", heights, [
      { label: "posted", values: posted, cls: "s1" },
      { label: "settled", values: settled, cls: "s2" },
    ], true),
    lineChart("Block time (s)", heights, [{ label: "seconds", values: times, cls: "s1" }]),
  ].join("");
}
