// Hand-drawn SVG charts: a time-series line chart with several series, and horizontal bars.
// Each chart carries a <title>/<desc> and a data table fallback is left to the pages.

const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f"];

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtTime(ms, spanMs) {
  const d = new Date(ms);
  if (spanMs > 2 * 86400_000) return `${d.getMonth() + 1}/${d.getDate()} ${String(d.getHours()).padStart(2, "0")}h`;
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/**
 * series: [{key, points: [{t: ms, v: number}]}]; options: {title, unit, height}.
 * Returns an <svg> sized by its viewBox (it scales with its container).
 */
export function lineChart(series, { title = "", unit = "", height = 220, width = 640, domain = null } = {}) {
  const pad = { l: 48, r: 12, t: 12, b: 28 };
  const all = series.flatMap((x) => x.points);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  if (!all.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "chart-empty" }, "no data in this range"));
    return svg;
  }
  let t0 = domain ? domain[0] : Math.min(...all.map((p) => p.t));
  let t1 = domain ? domain[1] : Math.max(...all.map((p) => p.t));
  if (t1 === t0) { t0 -= 60_000; t1 += 60_000; }
  const vmax = niceMax(Math.max(...all.map((p) => p.v)));
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / vmax) * (height - pad.t - pad.b);
  for (let i = 0; i <= 4; i += 1) {
    const v = (vmax * i) / 4;
    svg.append(s("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: "grid" }));
    const label = Number.isInteger(v) ? v : v.toFixed(1);
    svg.append(s("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, `${label}${unit}`));
  }
  for (let i = 0; i <= 4; i += 1) {
    const t = t0 + ((t1 - t0) * i) / 4;
    svg.append(s("text", { x: x(t), y: height - 8, "text-anchor": "middle", class: "axis" }, fmtTime(t, t1 - t0)));
  }
  series.forEach((ser, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = [...ser.points].sort((a, b) => a.t - b.t);
    const d = pts.map((p, j) => `${j ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, fill: "none", stroke: color, "stroke-width": 2, class: "series", "data-key": ser.key }));
    if (pts.length <= 60) {
      for (const p of pts) svg.append(s("circle", { cx: x(p.t), cy: y(p.v), r: 2.5, fill: color }, s("title", {}, `${ser.key}: ${p.v}${unit} at ${new Date(p.t).toLocaleString()}`)));
    }
  });
  return svg;
}

/** rows: [{key, value}] as horizontal bars. */
export function barChart(rows, { title = "", width = 1000, barHeight = 22 } = {}) {
  const pad = { l: 150, r: 48 };
  const height = Math.max(40, rows.length * (barHeight + 6) + 8);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  if (!rows.length) {
    svg.append(s("text", { x: width / 2, y: height / 2 + 4, "text-anchor": "middle", class: "chart-empty" }, "no data in this range"));
    return svg;
  }
  const vmax = Math.max(...rows.map((r) => r.value), 1);
  rows.forEach((r, i) => {
    const y = 4 + i * (barHeight + 6);
    const w = ((width - pad.l - pad.r) * r.value) / vmax;
    svg.append(s("text", { x: pad.l - 8, y: y + barHeight * 0.7, "text-anchor": "end", class: "axis" }, r.key));
    svg.append(s("rect", { x: pad.l, y, width: Math.max(1, w), height: barHeight, rx: 3, fill: PALETTE[i % PALETTE.length], class: "bar" }));
    svg.append(s("text", { x: pad.l + w + 6, y: y + barHeight * 0.7, class: "axis" }, r.value));
  });
  return svg;
}

export function legend(keys) {
  const ul = document.createElement("ul");
  ul.className = "legend";
  keys.forEach((k, i) => {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = PALETTE[i % PALETTE.length];
    li.append(sw, document.createTextNode(k));
    ul.append(li);
  });
  return ul;
}
