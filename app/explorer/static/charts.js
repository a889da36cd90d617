// Inline SVG charts: lines over block heights (one or two series), no library.

import { esc } from "./util.js";

const W = 320;
const H = 120;
const PAD = 4;

function scale(values) {
  const finite = values.filter(Number.isFinite);
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (!finite.length) [lo, hi] = [0, 1];
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  return (v) => H - PAD - ((v - lo) / (hi - lo)) * (H - 2 * PAD);
}

function fmt(v) {
  if (!Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (Math.abs(v) >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

// series: [{label, values, cls}] over the same x (heights); each has its own y scale
// unless `shared` is set (then one scale for all, e.g. posted vs settled).
export function lineChart(title, heights, series, shared = false) {
  const n = heights.length;
  const x = (i) => PAD + (n <= 1 ? 0 : (i / (n - 1)) * (W - 2 * PAD));
  const all = series.flatMap((s) => s.values);
  const paths = series
    .map((s) => {
      const y = scale(shared ? all : s.values);
      const d = s.values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(Number.isFinite(v) ? v : 0).toFixed(1)}`).join("");
      return `<path class="line ${esc(s.cls || "")}" d="${d}"/>`;
    })
    .join("");
  const legend = series
    .map((s) => `<span class="legend ${esc(s.cls || "")}">${esc(s.label)}: ${fmt(s.values[s.values.length - 1])}</span>`)
    .join(" ");
  const range = n ? `blocks ${heights[0]}–${heights[n - 1]}` : "no blocks";
  return `<figure class="chart"><figcaption>${esc(title)}</figcaption>
<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${esc(title)}">${paths}</svg>
<div class="legend-row">${legend}<span class="muted"> · ${range}</span></div></figure>`;
}
