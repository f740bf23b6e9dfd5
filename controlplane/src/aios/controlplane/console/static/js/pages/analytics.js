// Analytics: detections over time by class, device or camera; detections in zones (the zones
// the agent tagged them with); events by type and severity; a time range picker; the numbers
// behind each chart as CSV.

import { api } from "../api.js";
import { barChart, legend, lineChart } from "../charts.js";
import { clear, download, field, h, notice } from "../dom.js";

const RANGES = [["15m", 900, "1m"], ["1h", 3600, "1m"], ["6h", 21600, "5m"], ["24h", 86400, "1h"], ["7d", 604800, "6h"], ["30d", 2592000, "1d"]];

function localInput(date) {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

const csvCell = (v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
const csv = (rows) => rows.map((r) => r.map(csvCell).join(",")).join("\n") + "\n";

// Every bucket of [first, last), empty ones at zero, so that a gap reads as "nothing seen".
function filled(series, first, last, step) {
  return series.map((s) => {
    const counts = new Map(s.points.map((p) => [Date.parse(p.t), p.count]));
    const points = [];
    for (let t = first; t < last && points.length < 2000; t += step) points.push({ t, v: counts.get(t) || 0 });
    return { key: s.key, points };
  });
}

// A "Download CSV" button for a time-series answer (bucket start, group key, count).
function seriesCsv(name, groupBy, series) {
  const button = h("button.small", { type: "button" }, "Download CSV");
  button.addEventListener("click", () => download(name,
    csv([["bucket_start", groupBy, "count"], ...series.flatMap((s) => s.points.map((p) => [p.t, s.key, p.count]))])));
  return button;
}

export async function render(main) {
  const range = h("select", { name: "range" }, RANGES.map(([k]) => h("option", { value: k }, `Last ${k}`)), h("option", { value: "custom" }, "Custom…"));
  range.value = "1h";
  const since = h("input", { type: "datetime-local", name: "since" });
  const until = h("input", { type: "datetime-local", name: "until" });
  const custom = h("span.custom", { hidden: true }, field("From", since), field("To", until));
  const bucket = h("select", { name: "bucket" }, ["auto", "1m", "5m", "15m", "1h", "6h", "1d"].map((b) => h("option", { value: b }, b === "auto" ? "Auto" : b)));
  const groupBy = h("select", { name: "group_by" }, [["label", "Class"], ["device", "Device"], ["stream", "Camera"]].map(([v, l]) => h("option", { value: v }, l)));
  const eventsBy = h("select", { name: "events_by" }, [["zone", "Zone"], ["type", "Type"], ["device", "Device"], ["stream", "Camera"]].map(([v, l]) => h("option", { value: v }, l)));
  const device = h("select", { name: "device" }, h("option", { value: "" }, "All devices"));
  const stream = h("input", { name: "stream", placeholder: "all cameras" });
  const zone = h("select", { name: "zone" }, h("option", { value: "" }, "All zones"));
  const errors = h("div");
  const detBox = h("section.card", { "data-chart": "detections" });
  const evtBox = h("section.card", { "data-chart": "events" });
  const zoneBox = h("section.card", { "data-chart": "events-over-time" });
  const inZones = h("section.card", { "data-chart": "zones" });

  range.addEventListener("change", () => {
    custom.hidden = range.value !== "custom";
    if (range.value === "custom" && !since.value) {
      since.value = localInput(new Date(Date.now() - 86400_000));
      until.value = localInput(new Date());
    }
    if (range.value !== "custom") load();
  });
  for (const el of [bucket, groupBy, eventsBy, device, zone]) el.addEventListener("change", () => load());

  clear(main, h("div.page-head", h("h1", "Analytics")),
    h("form.filters", { onsubmit: (e) => { e.preventDefault(); load(); } },
      field("Time range", range), custom, field("Bucket", bucket), field("Detections by", groupBy), field("Events by", eventsBy),
      field("Device", device), field("Camera", stream), field("Zone", zone), h("button", { type: "submit" }, "Show")),
    errors, detBox, inZones, zoneBox, evtBox);

  api.get("/api/v1/fleet", { limit: 200 }).then((page) => {
    for (const d of page.items) device.append(h("option", { value: d.id }, d.name));
  }).catch(() => {});

  async function load() {
    notice(errors, "");
    let from; let to; let auto;
    if (range.value === "custom") {
      from = new Date(since.value); to = new Date(until.value);
      const span = (to - from) / 1000;
      auto = span <= 3600 ? "1m" : span <= 6 * 3600 ? "5m" : span <= 2 * 86400 ? "1h" : span <= 14 * 86400 ? "6h" : "1d";
    } else {
      const [, seconds, b] = RANGES.find(([k]) => k === range.value);
      to = new Date(); from = new Date(to.getTime() - seconds * 1000); auto = b;
    }
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
      notice(errors, "Choose a start before the end.");
      return;
    }
    const params = {
      since: from.toISOString(), until: to.toISOString(), bucket: bucket.value === "auto" ? auto : bucket.value,
      group_by: groupBy.value, device_id: device.value, stream_id: stream.value.trim(),
    };
    let data;
    try {
      data = await api.get("/api/v1/dashboard/analytics", params);
    } catch (err) {
      notice(errors, err.field ? `${err.field}: ${err.message}` : err.message);
      return;
    }
    const step = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400 }[data.bucket] * 1000;
    const first = Math.floor(Date.parse(data.since) / step) * step;
    const last = Date.parse(data.until);
    const series = filled(data.series, first, last, step);
    const total = data.series.reduce((n, s) => n + s.total, 0);
    const detCsv = seriesCsv(`detections-${params.group_by}-${params.bucket}.csv`, params.group_by, data.series);
    clear(detBox,
      h("div.page-head", h("h2", `Detections by ${groupBy.selectedOptions[0].textContent.toLowerCase()}`), detCsv),
      h("p.muted.small", `${total} detections from ${new Date(data.since).toLocaleString()} to ${new Date(data.until).toLocaleString()}, ${data.bucket} buckets (${data.source})`),
      lineChart(series, { title: "Detections over time", height: 300, width: 1000, domain: [first, last] }),
      legend(data.series.map((s) => `${s.key} (${s.total})`)));

    const byType = new Map();
    for (const e of data.events) byType.set(e.event_type, (byType.get(e.event_type) || 0) + e.count);
    const evtCsv = h("button.small", { type: "button" }, "Download CSV");
    evtCsv.addEventListener("click", () => download("events.csv",
      csv([["event_type", "severity", "count"], ...data.events.map((e) => [e.event_type, e.severity, e.count])])));
    clear(evtBox, h("div.page-head", h("h2", "Events by type"), evtCsv),
      barChart([...byType].map(([key, value]) => ({ key, value })).sort((a, b) => b.value - a.value), { title: "Events by type" }),
      data.events.length ? h("table.data", { "aria-label": "Events by type and severity" },
        h("thead", h("tr", h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Severity"), h("th", { scope: "col" }, "Count"))),
        h("tbody", data.events.map((e) => h("tr", h("td", e.event_type), h("td", e.severity), h("td", e.count))))) : null);

    await loadZones(params, first, last, step);

    // Events over time by zone (events carry their rule's zone), type, device or camera.
    let ev;
    try {
      ev = await api.get("/api/v1/dashboard/analytics/events", {
        since: params.since, until: params.until, bucket: params.bucket, group_by: eventsBy.value,
        device_id: params.device_id, stream_id: params.stream_id,
      });
    } catch (err) {
      clear(zoneBox, h("h2", "Events over time"), h("p.muted", err.status === 404 ? "This control plane has no event analytics." : err.message));
      return;
    }
    const evSeries = filled(ev.series, first, last, step);
    const evOverCsv = seriesCsv(`events-${ev.group_by}-${ev.bucket}.csv`, ev.group_by, ev.series);
    clear(zoneBox,
      h("div.page-head", h("h2", `Events over time by ${eventsBy.selectedOptions[0].textContent.toLowerCase()}`), evOverCsv),
      lineChart(evSeries, { title: "Events over time", height: 220, width: 1000, domain: [first, last] }),
      legend(ev.series.map((s) => `${s.key} (${s.total})`)));
  }

  // Detections in zones: per zone, or per class within the zone chosen in the filter.
  async function loadZones(params, first, last, step) {
    const groupZones = !zone.value;
    let zd;
    try {
      zd = await api.get("/api/v1/dashboard/analytics/zones", {
        since: params.since, until: params.until, bucket: params.bucket, device_id: params.device_id,
        stream_id: params.stream_id, zone_id: zone.value, group_by: groupZones ? "zone" : "label",
      });
    } catch (err) {
      clear(inZones, h("h2", "Detections in zones"), h("p.muted", err.status === 404 ? "This control plane has no zone analytics." : err.message));
      return;
    }
    if (groupZones) { // the zones seen in this range become the filter's choices
      const known = new Set([...zone.options].map((o) => o.value));
      for (const s of zd.series) if (!known.has(s.key)) zone.append(h("option", { value: s.key }, s.key));
    }
    const what = groupZones ? "zone" : `class in zone ${zone.value}`;
    clear(inZones,
      h("div.page-head", h("h2", `Detections in zones, by ${what}`), seriesCsv(`zones-${zd.group_by}-${zd.bucket}.csv`, zd.group_by, zd.series)),
      zd.series.length ? null : h("p.muted.small", "No detection stood in a zone in this range (zones are tagged by agents that run zone nodes)."),
      barChart(zd.series.map((s) => ({ key: s.key, value: s.total })), { title: `Detections by ${what}` }),
      lineChart(filled(zd.series, first, last, step), { title: `Detections in zones over time, by ${what}`, height: 220, width: 1000, domain: [first, last] }),
      legend(zd.series.map((s) => `${s.key} (${s.total})`)));
  }

  await load();
  const tick = setInterval(() => { if (range.value !== "custom" && document.visibilityState === "visible") load(); }, 30_000);
  return () => clearInterval(tick);
}
