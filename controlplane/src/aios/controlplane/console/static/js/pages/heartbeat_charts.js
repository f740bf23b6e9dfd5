// Heartbeat history charts of a device (CPU, memory, temperature, inference latency, fps,
// spool depth) from GET /api/v1/fleet/{id}/heartbeats, when the control plane has it.

import { api } from "../api.js";
import { clear, h } from "../dom.js";
import { lineChart } from "../charts.js";

const METRICS = [
  ["cpu_percent", "CPU", " %"], ["mem_percent", "Memory", " %"], ["temperature_c", "Temperature", " °C"],
  ["inference_ms_p95", "Inference p95", " ms"], ["fps", "Camera fps", ""], ["spool_depth", "Spool depth", ""],
];

export async function heartbeatCharts(box, deviceId) {
  const hours = h("select", { "aria-label": "History range" },
    [1, 6, 24, 72].map((n) => h("option", { value: n }, `last ${n} h`)));
  const grid = h("div.charts");
  clear(box, h("div.page-head", h("h2", "Heartbeat history"), hours), grid);
  async function draw() {
    const since = Date.now() / 1000 - Number(hours.value) * 3600;
    let data;
    try {
      data = await api.get(`/api/v1/fleet/${encodeURIComponent(deviceId)}/heartbeats`, { since: since.toFixed(0) });
    } catch (err) {
      clear(grid, h("p.muted", err.status === 404 ? "This control plane keeps no heartbeat history." : err.message));
      return;
    }
    clear(grid, METRICS.map(([key, label, unit]) => {
      const points = data.points.filter((p) => p[key] !== null && p[key] !== undefined).map((p) => ({ t: Date.parse(p.t), v: p[key] }));
      return h("figure.chart-box", h("figcaption", label), lineChart([{ key: label, points }], { title: `${label} over time`, unit, height: 180, width: 480, domain: [since * 1000, Date.now()] }));
    }));
  }
  hours.addEventListener("change", draw);
  await draw();
}
