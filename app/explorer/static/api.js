// The node's public APIs as the page reaches them: the node RPC (CometBFT subset), Cosmos
// and module REST on this origin, and the Ethereum JSON-RPC. Where they are comes from
// config.json, which the node writes from its own settings.

let cfg = null;
let rpcUrl = "";
let ethUrl = "";

function endpoint(e) {
  if (!e) return "";
  if (e.url) return e.url;
  const host = e.host || location.hostname;
  return `${location.protocol}//${host.includes(":") ? `[${host}]` : host}:${e.port}`;
}

export async function loadConfig() {
  // index.html starts the fetch before the modules load; fetched here if that failed
  cfg = await (window.explorerConfig || Promise.reject()).catch(() =>
    fetch("config.json", { cache: "no-store" }).then((r) => r.json()),
  );
  rpcUrl = endpoint(cfg.rpc);
  ethUrl = endpoint(cfg.jsonrpc);
  return cfg;
}

export const config = () => cfg;
export const wsUrl = () => rpcUrl.replace(/^http/, "ws") + "/websocket";
export const hasEth = () => Boolean(ethUrl);

let nextId = 1;

export class ApiError extends Error {}

async function postJson(url, body) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return r.json();
}

// One node RPC call; an error answer throws.
export async function rpc(method, params = {}) {
  const out = await postJson(rpcUrl, { jsonrpc: "2.0", id: nextId++, method, params });
  if (out.error) throw new ApiError(`${method}: ${out.error.data || out.error.message}`);
  return out.result;
}

// Several node RPC calls in one batch; each answer is its result or null.
export async function rpcBatch(calls) {
  if (!calls.length) return [];
  const first = nextId;
  const body = calls.map(([method, params]) => ({ jsonrpc: "2.0", id: nextId++, method, params }));
  const out = [];
  for (let i = 0; i < body.length; i += 100) {
    const part = await postJson(rpcUrl, body.slice(i, i + 100));
    for (const a of Array.isArray(part) ? part : [part]) out.push(a);
  }
  const byId = new Map(out.map((a) => [a.id, a]));
  return body.map((_, i) => byId.get(first + i)?.result ?? null);
}

export async function eth(method, params = []) {
  if (!ethUrl) return null;
  const out = await postJson(ethUrl, { jsonrpc: "2.0", id: nextId++, method, params });
  if (out.error) throw new ApiError(`${method}: ${out.error.message}`);
  return out.result;
}

// A GET on this node's REST port; null on 404 and 501, an error otherwise.
export async function rest(path) {
  const r = await fetch(path, { headers: { accept: "application/json" } });
  if (r.status === 404 || r.status === 501) return null;
  const body = await r.json();
  if (!r.ok) throw new ApiError(`${path}: ${body.message || r.status}`);
  return body;
}

const hexOf = (s) => Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("");

// An app query /custom/<module>/<name> through abci_query; null when it answers "not found".
export async function custom(module, name, req = {}) {
  const res = await rpc("abci_query", { path: `/custom/${module}/${name}`, data: hexOf(JSON.stringify(req)) });
  const r = res.response;
  if (r.code !== 0) {
    if (/not found|no job|not a registered/i.test(r.log)) return null;
    throw new ApiError(`${module}/${name}: ${r.log}`);
  }
  if (!r.value) return null;
  const bytes = Uint8Array.from(atob(r.value), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// The module's REST route when the node has it, else the same read through abci_query.
export async function moduleRead(path, module, name, req = {}) {
  try {
    const out = await rest(path);
    if (out !== null) return out;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
  }
  return custom(module, name, req);
}

// Every tx found by an event query (newest first), at most `limit`.
export async function txSearch(query, limit = 30, order = "desc") {
  const res = await rpc("tx_search", { query, per_page: String(Math.min(limit, 100)), page: "1", order_by: order });
  return res.txs || [];
}

export const attrs = (ev) => Object.fromEntries((ev.attributes || []).map((a) => [a.key, a.value]));
