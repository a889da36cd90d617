// Address pages (either form shows the same page, by its bech32 form) and the worker and
// oracle pages: bonds, jail and ban state, reputation and its history, slashes.

import { attrs, custom, moduleRead, rest, rpc, txSearch } from "./api.js";
import { blockResults } from "./home.js";
import { NotFound } from "./pages.js";
import { addrLink, blockLink, esc, fromBech32, isBech32, jobLink, kv, table, txLink, vcn } from "./util.js";

export const HISTORY_BLOCKS = 500;

async function bondsOf(addr) {
  const out = await moduleRead(`/vcoin/staking/v1/bonds/${addr}`, "staking", "bonds", { address: addr }).catch(() => null);
  return out?.bonds || [];
}

async function reputationOf(addr) {
  const out = await moduleRead(`/vcoin/reputation/v1/workers/${addr}`, "reputation", "score", { address: addr }).catch(() => null);
  return out ? (out.reputation ?? out) : null;
}

async function jobsOf(role, addr) {
  const out = await moduleRead(`/vcoin/jobs/v1/jobs?${role}=${addr}&pagination.limit=20`, "jobs", "jobs", { [role]: addr, limit: 20 }).catch(() => null);
  return out?.jobs || [];
}

function bondState(b) {
  if (b.tombstoned) return `<span class="bad">banned (tombstoned)</span>`;
  if (Number(b.jailed_until)) return `<span class="warn">jailed until ${blockLink(b.jailed_until)}</span>`;
  return b.active ? `<span class="good">active</span>` : "inactive";
}

const bondRows = (bonds) =>
  bonds
    .filter((b) => Number(b.bonded) || b.tombstoned || Number(b.jailed_until) || (b.unbonding || []).length)
    .map((b) => [
      b.role === "worker" || b.role === "oracle" ? `<a href="#/${esc(b.role)}/${esc(b.address)}">${esc(b.role)}</a>` : esc(b.role),
      vcn(b.bonded),
      bondState(b),
      esc((b.unbonding || []).map((u) => `${vcn(u.amount)} at ${u.completion_height}`).join(", ")),
    ]);

const jobRows = (jobs) => jobs.map((j) => [jobLink(j.id), `<span class="state state-${esc(j.state)}">${esc(j.state)}</span>`, esc(j.model), vcn(j.max_price)]);

export async function renderAddress(view, addr) {
  if (!isBech32(addr)) throw new NotFound(`not an address: ${addr}`);
  const hex = fromBech32(addr);
  const [balances, evm, bonds, rep, sent, received, posted, worked] = await Promise.all([
    rest(`/cosmos/bank/v1beta1/balances/${addr}`).catch(() => null),
    moduleRead(`/vcoin/evm/v1/accounts/${hex}`, "evm", "account", { address: hex }).catch(() => null),
    bondsOf(addr),
    reputationOf(addr),
    txSearch(`message.sender='${addr}'`, 20).catch(() => []),
    txSearch(`transfer.recipient='${addr}'`, 20).catch(() => []),
    jobsOf("poster", addr),
    jobsOf("worker", addr),
  ]);
  const acct = evm?.account ?? evm;
  const txs = [...new Map([...sent, ...received].map((t) => [t.hash, t])).values()].sort((a, b) => Number(b.height) - Number(a.height)).slice(0, 25);
  const txRows = txs.map((t) => {
    const evs = t.tx_result?.events || [];
    const eth = evs.find((e) => e.type === "ethereum_tx");
    const actions = evs.filter((e) => e.type === "message").map((e) => attrs(e).action?.split(".").pop());
    const dir = sent.some((s) => s.hash === t.hash) ? "out" : "in";
    return [txLink(eth ? attrs(eth).hash : t.hash), esc(dir), esc(actions.join(", ")), blockLink(t.height), t.tx_result?.code === 0 ? "ok" : `<span class="bad">failed</span>`];
  });
  const bal = (balances?.balances || []).map((c) => (c.denom === "avcn" ? vcn(c.amount) : `${esc(c.amount)} ${esc(c.denom)}`)).join(", ") || "0 VCN";
  view.innerHTML = `
    <h1>Address</h1>
    ${kv([
      ["Bech32", `<span class="mono" id="addr-bech32">${esc(addr)}</span>`],
      ["Ethereum", `<span class="mono" id="addr-hex">${esc(acct?.address || hex)}</span>`],
      ["Balance", `<span id="addr-balance">${bal}</span>`],
      ["Nonce", acct ? esc(acct.nonce) : ""],
      ["Contract", acct?.is_contract ? "yes" : ""],
      ["Reputation", rep && (rep.has_history || Number(rep.total)) ? `${esc(rep.score)} (${esc(rep.successes)} of ${esc(rep.total)} jobs good)` : ""],
    ])}
    <h2>Bonds</h2>${table(["Role", "Bonded", "State", "Unbonding"], bondRows(bonds))}
    <h2>Transactions</h2>${table(["Hash", "Dir", "Messages", "Block", "Result"], txRows)}
    <h2>Jobs posted</h2>${table(["Job", "State", "Model", "Max price"], jobRows(posted))}
    ${worked.length ? `<h2>Jobs worked</h2>${table(["Job", "State", "Model", "Max price"], jobRows(worked))}` : ""}`;
}

// Events that name `addr` in the last HISTORY_BLOCKS blocks (block and tx events).
async function historyOf(addr) {
  const status = await rpc("status");
  const top = Number(status.sync_info.latest_block_height);
  const lo = Math.max(1, top - HISTORY_BLOCKS + 1);
  const results = await blockResults(lo, top);
  const out = [];
  results.forEach((res, i) => {
    if (!res) return;
    const evs = [...(res.txs_results || []).filter((t) => t.code === 0).flatMap((t) => t.events || []), ...(res.finalize_block_events || [])];
    for (const e of evs) {
      const a = attrs(e);
      if (a.address === addr || a.worker === addr || a.oracle === addr) out.push({ height: lo + i, type: e.type, a });
    }
  });
  return { lo, top, events: out };
}

const REP_TYPES = new Set(["ReputationChanged"]);
const PUNISH_TYPES = new Set(["Slashed", "Jailed", "Unjailed", "Tombstoned", "CheatingPunished", "OraclePenalised", "OraclePenaltyWithdrawn", "PlantPassed", "DowntimePunished", "DoubleSignPunished"]);

export async function renderRole(view, role, addr) {
  if (!isBech32(addr)) throw new NotFound(`not an address: ${addr}`);
  const [bonds, rep, hist, worker, attests, jobs] = await Promise.all([
    bondsOf(addr),
    reputationOf(addr),
    historyOf(addr),
    role === "worker" ? moduleRead(`/vcoin/jobs/v1/workers/${addr}`, "jobs", "worker", { address: addr }).catch(() => null) : null,
    role === "oracle" ? txSearch(`Attested.oracle='${addr}'`, 30).catch(() => []) : [],
    role === "worker" ? jobsOf("worker", addr) : [],
  ]);
  const bond = bonds.find((b) => b.role === role);
  const repRows = hist.events
    .filter((e) => REP_TYPES.has(e.type))
    .map((e) => [blockLink(e.height), `${(Number(e.a.old_score_bps) / 100).toFixed(2)} → ${(Number(e.a.new_score_bps) / 100).toFixed(2)}`, esc(e.a.reason)]);
  const punishRows = hist.events
    .filter((e) => PUNISH_TYPES.has(e.type) && (!e.a.role || e.a.role === role))
    .map((e) => [blockLink(e.height), esc(e.type), esc(Object.entries(e.a).filter(([k]) => k !== "address").map(([k, v]) => `${k}=${v}`).join(" "))]);
  const attRows = attests.flatMap((t) =>
    (t.tx_result?.events || [])
      .filter((e) => e.type === "Attested")
      .map((e) => attrs(e))
      .map((a) => [jobLink(a.job_id), esc(a.verdict), `${(Number(a.similarity_bps) / 100).toFixed(2)} %`, blockLink(t.height)]),
  );
  const w = worker?.worker ?? worker;
  view.innerHTML = `
    <h1>${role === "worker" ? "Worker" : "Oracle"} ${addrLink(addr)}</h1>
    ${kv([
      ["State", bond ? bondState(bond) : "not bonded"],
      ["Bonded", bond ? vcn(bond.bonded) : ""],
      ["Reputation", rep ? `<span id="rep-score">${esc(rep.score)}</span> (${esc(rep.successes)} of ${esc(rep.total)} good, penalties ${(Number(rep.penalties_bps) / 100).toFixed(2)})` : ""],
      ["Models", w ? esc((w.models || []).join(", ")) : ""],
      ["Tasks", w ? esc((w.task_types || []).join(", ")) : ""],
      ["GPU", w && w.gpu_model ? `${esc(w.gpu_count)} × ${esc(w.gpu_model)}` : ""],
    ])}
    <h2>Reputation history <span class="muted small">(blocks ${hist.lo}–${hist.top})</span></h2>
    ${table(["Block", "Score", "Reason"], repRows)}
    <h2>Slashes and jailing</h2>${table(["Block", "Event", "Details"], punishRows)}
    ${role === "oracle" ? `<h2>Attestations</h2>${table(["Job", "Verdict", "Similarity", "Block"], attRows)}` : ""}
    ${role === "worker" ? `<h2>Jobs</h2>${table(["Job", "State", "Model", "Max price"], jobRows(jobs))}` : ""}`;
}

// Every registered worker and every bonded oracle, with its bond state and reputation.
export async function renderNetwork(view) {
  const [workers, bonds] = await Promise.all([
    moduleRead("/vcoin/jobs/v1/workers?pagination.limit=200", "jobs", "workers", { limit: 200 }).catch(() => null),
    rest("/vcoin/staking/v1/bonds?role=oracle&pagination.limit=200").catch(() => null),
  ]);
  const ws = workers?.workers || [];
  const oracles = bonds?.bonds || [];
  const [wBonds, reps] = await Promise.all([
    Promise.all(ws.map((w) => bondsOf(w.address))),
    Promise.all([...ws.map((w) => w.address), ...oracles.map((o) => o.address)].map(reputationOf)),
  ]);
  const repOf = (i) => (reps[i] ? esc(reps[i].score) : "–");
  const wRows = ws.map((w, i) => {
    const b = wBonds[i].find((x) => x.role === "worker");
    return [
      `<a class="mono" href="#/worker/${esc(w.address)}">${esc(w.address)}</a>`,
      b ? bondState(b) : "not bonded",
      b ? vcn(b.bonded) : "",
      repOf(i),
      esc((w.models || []).join(", ")),
    ];
  });
  const oRows = oracles.map((o, i) => [
    `<a class="mono" href="#/oracle/${esc(o.address)}">${esc(o.address)}</a>`,
    bondState(o),
    vcn(o.bonded),
    repOf(ws.length + i),
  ]);
  view.innerHTML = `
    <h1>Workers and oracles</h1>
    <h2>Workers (${ws.length})</h2>${table(["Address", "State", "Bonded", "Reputation", "Models"], wRows)}
    <h2>Oracles (${oracles.length})</h2>${table(["Address", "State", "Bonded", "Reputation"], oRows)}`;
}
