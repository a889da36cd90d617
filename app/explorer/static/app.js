// The explorer's entry: hash routes, search, and live updates over the node's websocket.
//
// Routes: #/ (home), #/block/<height>, #/tx/<hash>, #/address/<vcoin1…>, #/job/<id>,
// #/worker/<vcoin1…>, #/oracle/<vcoin1…>, #/network (workers and oracles), #/search/<text>. Once a page is drawn the main
// element carries data-ready (the page's kind) and data-route (the hash it drew), and
// data-error on failure: what tests wait for.

import { renderAddress, renderNetwork, renderRole } from "./address.js";
import { ApiError, eth, loadConfig, rpc, wsUrl } from "./api.js";
import { renderHome } from "./home.js";
import { jobRecord, NotFound, renderBlock, renderJob, renderTx } from "./pages.js";
import { esc, isBech32, isHexAddress, toBech32 } from "./util.js";

const view = document.getElementById("view");
const live = document.getElementById("live");
let drawing = 0;

// Where a search lands: a route, or null when nothing matches.
export async function resolve(text) {
  const q = text.trim();
  if (!q) return "#/";
  const job = q.match(/^(?:job\s*[:#]?\s*|#)(\d+)$/i);
  if (job) return `#/job/${job[1]}`;
  if (/^\d+$/.test(q)) {
    const status = await rpc("status");
    if (Number(q) <= Number(status.sync_info.latest_block_height)) return `#/block/${Number(q)}`;
    return (await jobRecord(q).catch(() => null)) ? `#/job/${q}` : null;
  }
  if (isHexAddress(q)) return `#/address/${toBech32(q)}`;
  if (isBech32(q)) return `#/address/${q.toLowerCase()}`;
  const hash = q.replace(/^0x/i, "");
  if (/^[0-9a-f]{64}$/i.test(hash)) {
    const cosmos = await rpc("tx", { hash: "0x" + hash.toUpperCase() }).catch(() => null);
    if (cosmos) return `#/tx/${cosmos.hash}`;
    const etx = await eth("eth_getTransactionByHash", ["0x" + hash.toLowerCase()]).catch(() => null);
    if (etx) return `#/tx/0x${hash.toLowerCase()}`;
    const blk = await eth("eth_getBlockByHash", ["0x" + hash.toLowerCase(), false]).catch(() => null);
    if (blk) return `#/block/${Number(blk.number)}`;
  }
  return null;
}

async function route() {
  const hash = location.hash || "#/";
  const [, page = "", arg = ""] = hash.match(/^#\/([^/]*)\/?(.*)$/) || [];
  const mine = ++drawing;
  view.removeAttribute("data-ready");
  view.removeAttribute("data-error");
  view.setAttribute("aria-busy", "true");
  const arg1 = decodeURIComponent(arg);
  try {
    if (page === "" || page === "home") await renderHome(view);
    else if (page === "block") await renderBlock(view, Number(arg1));
    else if (page === "tx") await renderTx(view, arg1);
    else if (page === "address") {
      if (isHexAddress(arg1)) return void location.replace(`#/address/${toBech32(arg1)}`);
      await renderAddress(view, arg1.toLowerCase());
    } else if (page === "job") await renderJob(view, Number(arg1));
    else if (page === "worker" || page === "oracle") await renderRole(view, page, arg1.toLowerCase());
    else if (page === "network") await renderNetwork(view);
    else if (page === "search") {
      const to = await resolve(arg1);
      if (to) return void location.replace(to);
      throw new NotFound(`nothing found for “${arg1}”`);
    } else throw new NotFound(`no page ${hash}`);
    if (mine !== drawing) return;
    view.setAttribute("data-route", hash);
    view.setAttribute("data-ready", page || "home");
    // the first page drawn with data: a mark in the frame that paints it (the benchmark's
    // "time to first render", scripts/bench/explorer.py, counts from navigation start)
    if (!performance.getEntriesByName("explorer:first-render").length) {
      requestAnimationFrame(() => {
        if (!performance.getEntriesByName("explorer:first-render").length) performance.mark("explorer:first-render");
      });
    }
    document.title = `VCoin explorer · ${page || "home"}${arg1 ? " " + arg1 : ""}`;
  } catch (e) {
    if (mine !== drawing) return;
    const what = e instanceof NotFound ? "Not found" : e instanceof ApiError ? "The node refused a read" : "Error";
    view.innerHTML = `<h1>${esc(what)}</h1><p class="error">${esc(e.message)}</p>`;
    view.setAttribute("data-error", e.message);
    view.setAttribute("data-route", hash);
    view.setAttribute("data-ready", "error");
    if (!(e instanceof NotFound)) console.error(e);
  } finally {
    if (mine === drawing) view.removeAttribute("aria-busy");
  }
}

document.getElementById("search").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = document.getElementById("q");
  const to = await resolve(input.value).catch(() => null);
  if (to) {
    input.value = "";
    if (to === location.hash) route();
    else location.hash = to;
  } else {
    location.hash = `#/search/${encodeURIComponent(input.value.trim())}`;
  }
});

// -- live updates -----------------------------------------------------------------------
let refreshTimer = null;

function onNewBlock(height) {
  live.textContent = `live · block ${height}`;
  live.classList.add("on");
  const page = (location.hash || "#/").split("/")[1] || "";
  if (page !== "" && page !== "home" && page !== "job") return;
  // a job page follows its job until it reaches a final state
  const state = document.getElementById("job-state")?.textContent;
  if (page === "job" && ["settled", "rejected", "cancelled", "expired", "failed"].includes(state)) return;
  if (refreshTimer || view.hasAttribute("aria-busy")) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    if (!document.hidden) route();
  }, page === "job" ? 1500 : 3000);
}

function connect(delay = 1000) {
  let ws;
  try {
    ws = new WebSocket(wsUrl());
  } catch {
    return;
  }
  ws.onopen = () => {
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: { query: "tm.event='NewBlock'" } }));
  };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    const h = msg.result?.data?.value?.block?.header?.height;
    if (h) onNewBlock(h);
  };
  ws.onclose = () => {
    live.classList.remove("on");
    live.textContent = "offline";
    setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
  };
}

async function main() {
  await loadConfig();
  window.addEventListener("hashchange", route);
  await route();
  connect();
}

main().catch((e) => {
  view.innerHTML = `<h1>Error</h1><p class="error">${esc(e.message)}</p>`;
  view.setAttribute("data-ready", "error");
});
