// Small helpers: HTML escaping, amounts, times, and addresses in both forms (bech32 and 0x).

export const esc = (v) =>
  String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// 123avcn or "123" -> "0.000000000000000123 VCN", trimmed
export function vcn(amount, decimals = 18) {
  let s = String(amount ?? "0").replace(/avcn$/, "");
  if (!/^\d+$/.test(s)) return esc(amount);
  s = s.padStart(decimals + 1, "0");
  const whole = s.slice(0, -decimals).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const frac = s.slice(-decimals).replace(/0+$/, "").slice(0, 6);
  // amounts below a millionth of a VCN read in avcn, not as 0.000000
  if (whole === "0" && !/[1-9]/.test(frac) && /[1-9]/.test(s)) return `${BigInt(s).toLocaleString("en")} avcn`;
  return `${whole}${frac.replace(/0+$/, "") ? "." + frac.replace(/0+$/, "") : ""} VCN`;
}

export const vcnNumber = (amount) => Number(String(amount ?? "0").replace(/avcn$/, "")) / 1e18;

export function ago(time) {
  const s = Math.max(0, (Date.now() - new Date(time).getTime()) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export const short = (h, n = 8) => (h && h.length > 2 * n + 3 ? `${h.slice(0, n + 2)}…${h.slice(-n)}` : h || "");

// -- bech32 (BIP-173) ---------------------------------------------------------------------
const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values) {
  let chk = 1;
  for (const v of values) {
    const top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >> i) & 1) chk ^= GEN[i];
  }
  return chk;
}

const hrpExpand = (hrp) => [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];

function convertBits(data, from, to, pad) {
  let acc = 0;
  let bits = 0;
  const out = [];
  const maxv = (1 << to) - 1;
  for (const v of data) {
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
  }
  if (pad && bits > 0) out.push((acc << (to - bits)) & maxv);
  else if (!pad && (bits >= from || ((acc << (to - bits)) & maxv))) return null;
  return out;
}

export function toBech32(hex, hrp = "vcoin") {
  const bytes = hex.replace(/^0x/i, "").match(/../g).map((b) => parseInt(b, 16));
  const data = convertBits(bytes, 8, 5, true);
  const mod = polymod([...hrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  const check = [0, 1, 2, 3, 4, 5].map((i) => (mod >> (5 * (5 - i))) & 31);
  return hrp + "1" + [...data, ...check].map((d) => CHARSET[d]).join("");
}

// "vcoin1…" -> "0x…" (lower case), or null when it is not a valid bech32 address
export function fromBech32(addr) {
  const s = addr.toLowerCase();
  const pos = s.lastIndexOf("1");
  if (pos < 1 || s.length - pos < 7) return null;
  const hrp = s.slice(0, pos);
  const data = [...s.slice(pos + 1)].map((c) => CHARSET.indexOf(c));
  if (data.includes(-1) || polymod([...hrpExpand(hrp), ...data]) !== 1) return null;
  const bytes = convertBits(data.slice(0, -6), 5, 8, false);
  if (!bytes || bytes.length !== 20) return null;
  return "0x" + bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
}

export const isBech32 = (s) => /^vcoin1[02-9ac-hj-np-z]{38}$/i.test(s) && fromBech32(s) !== null;
export const isHexAddress = (s) => /^0x[0-9a-f]{40}$/i.test(s);

// A link to an address page (always by its bech32 form), shortened.
export function addrLink(a) {
  if (!a) return "";
  const b = isHexAddress(a) ? toBech32(a) : a;
  return `<a class="mono" href="#/address/${esc(b)}" title="${esc(b)}">${esc(short(b, 6))}</a>`;
}

export const blockLink = (h) => `<a href="#/block/${esc(h)}">${esc(h)}</a>`;
export const txLink = (h) => `<a class="mono" href="#/tx/${esc(h)}" title="${esc(h)}">${esc(short(h))}</a>`;
export const jobLink = (id) => `<a href="#/job/${esc(id)}">#${esc(id)}</a>`;

export function table(headers, rows, cls = "") {
  if (!rows.length) return `<p class="muted">none</p>`;
  const th = headers.map((h) => `<th>${esc(h)}</th>`).join("");
  const trs = rows.map((r) => `<tr>${r.map((c, i) => `<td data-label="${esc(headers[i])}">${c}</td>`).join("")}</tr>`).join("");
  return `<div class="table-wrap"><table class="${cls}"><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table></div>`;
}

export function kv(pairs) {
  return `<dl class="kv">${pairs
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`)
    .join("")}</dl>`;
}

export function eventsTable(events) {
  return (events || [])
    .map(
      (e) =>
        `<div class="event"><span class="tag">${esc(e.type)}</span> ${(e.attributes || [])
          .map((a) => `<span class="attr"><b>${esc(a.key)}</b>=${esc(a.value)}</span>`)
          .join(" ")}</div>`,
    )
    .join("");
}
