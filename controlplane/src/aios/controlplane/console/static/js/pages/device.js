// Device: identity, cameras and health from the latest heartbeat, the deployed pipeline and
// its reports, completeness of the detection stream, recent events. Live over the WebSocket, no
// polling: status, heartbeats (health, cameras, completeness follow each one), events, reports.

import { api } from "../api.js";
import { can } from "../context.js";
import { ago, badge, clear, field, h, notice, when } from "../dom.js";
import { subscribe } from "../live.js";
import { heartbeatCharts } from "./heartbeat_charts.js";

const fmt = (v, unit, digits = 1) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(digits)}${unit}`);

export async function render(main, [deviceId]) {
  const id = encodeURIComponent(deviceId);
  const head = h("div.page-head");
  const health = h("section.card", h("h2", "Health"), h("p.muted", "Loading…"));
  const history = h("section.card", h("h2", "Heartbeat history"));
  const deployments = h("section.card", h("h2", "Deployed pipeline"), h("p.muted", "Loading…"));
  const completeness = h("section.card", h("h2", "Completeness"), h("p.muted", "Loading…"));
  const events = h("section.card", h("h2", "Recent events"));
  const errors = h("div");
  clear(main, h("p", h("a", { href: "#/fleet" }, "← Fleet")), head, errors,
    h("div.grid2", health, completeness), history, deployments, events);

  let device;
  try {
    device = await api.get(`/api/v1/fleet/${id}`);
  } catch (err) {
    notice(errors, err.status === 404 ? "This device does not exist." : err.message);
    return null;
  }
  const statusCell = h("span", badge(device.status));
  const seen = h("span", ago(device.last_seen_at));
  const tagsCell = h("span", device.tags.map((t) => h("span.tag", t)));
  clear(head, h("h1", device.name), h("div.meta", statusCell, " · last seen ", seen,
    " · ", h("code", device.id), device.agent_version ? ` · agent ${device.agent_version}` : "", tagsCell));
  if (can("operator")) {
    const tags = h("input", { name: "tags", value: device.tags.join(", ") });
    const status = h("span", { "aria-live": "polite" });
    head.append(h("form.inline", {
      "aria-label": "Device tags",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          device = await api.patch(`/api/v1/fleet/${id}`, { tags: tags.value.split(",").map((x) => x.trim()).filter(Boolean) });
          clear(tagsCell, device.tags.map((t) => h("span.tag", t)));
          notice(status, "Tags saved.", "ok");
        } catch (err) { notice(status, err.field ? `${err.field}: ${err.message}` : err.message); }
      },
    }, field("Tags (comma-separated)", tags), h("button.small", { type: "submit" }, "Save tags"), status));
  }

  async function loadHealth() {
    const { heartbeat: hb } = await api.get(`/api/v1/fleet/${id}/heartbeat`);
    if (!hb) { clear(health, h("h2", "Health"), h("p.muted", "No heartbeat yet.")); return null; }
    return showHealth(hb);
  }

  function showHealth(hb) {
    health.dataset.heartbeatTs = String(hb.ts);
    clear(health, h("h2", "Health"),
      h("dl.tiles",
        tile("CPU", fmt(hb.cpu_percent, " %")), tile("Memory", fmt(hb.mem_percent, " %")),
        tile("Temperature", fmt(hb.temperature_c, " °C")), tile("Inference p50", fmt(hb.inference_ms_p50, " ms")),
        tile("Inference p95", fmt(hb.inference_ms_p95, " ms")), tile("Spool depth", String(hb.spool_depth)),
        tile("Provider", hb.provider || "–"), tile("Uptime", fmt(hb.uptime_s / 3600, " h"))),
      h("h3", "Cameras"),
      hb.streams.length ? h("table.data", { "aria-label": "Cameras" },
        h("thead", h("tr", ["Camera", "State", "fps", "Dropped", "Error"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", hb.streams.map((st) => h("tr", h("td", st.stream_id), h("td", badge(st.state)),
          h("td", st.fps.toFixed(1)), h("td", st.frames_dropped), h("td", st.error || ""))))) : h("p.muted", "No cameras."),
      h("p.muted.small", `Heartbeat at ${new Date(hb.ts * 1000).toLocaleTimeString()}`));
    return hb;
  }

  async function loadDeployments(hb) {
    const page = await api.get("/api/v1/pipelines", { limit: 100 });
    const rows = [];
    for (const p of page.items) {
      const deps = await api.get(`/api/v1/pipelines/${p.id}/deployments`);
      for (const d of deps) for (const t of d.targets) if (t.device_id === deviceId) rows.push({ p, d, t });
    }
    rows.sort((a, b) => Date.parse(b.d.created_at) - Date.parse(a.d.created_at));
    const running = hb && hb.pipeline_id ? page.items.find((p) => p.id === hb.pipeline_id) : null;
    clear(deployments, h("h2", "Deployed pipeline"),
      h("p", "Running: ", running ? h("a", { href: `#/pipelines/${running.id}` }, `${running.name} v${hb.pipeline_version}`)
        : hb && hb.pipeline_version ? `local pipeline v${hb.pipeline_version}` : h("span.muted", "none reported")),
      rows.length ? h("table.data", { "aria-label": "Deployment reports" },
        h("thead", h("tr", ["Pipeline", "Version", "Deployed", "Report", "Active", "Error"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", rows.slice(0, 10).map(({ p, d, t }) => h("tr",
          h("td", h("a", { href: `#/pipelines/${p.id}` }, p.name)), h("td", `v${d.version}`), h("td", when(d.created_at)),
          h("td", badge(t.status)), h("td", t.active_version ? `v${t.active_version}` : "–"),
          h("td", t.error ? `${t.node ? `${t.node}: ` : ""}${t.error}` : ""))))) : h("p.muted", "No deployment has targeted this device."));
  }

  async function loadCompleteness() {
    const c = await api.get(`/api/v1/fleet/${id}/completeness`);
    clear(completeness, h("h2", "Completeness"),
      h("dl.tiles", tile("Batches received", String(c.received)), tile("Missing", String(c.missing_count)),
        tile("Duplicates dropped", String(c.duplicates_dropped)), tile("Latest seq", c.max_seq ?? "–")),
      c.missing.length ? h("p", "Gaps: ", c.missing.slice(-10).map(([a, b]) => h("code", a === b ? `${a} ` : `${a}–${b} `))) : h("p.muted", "No gaps."));
  }

  async function loadEvents() {
    const page = await api.get("/api/v1/dashboard/events", { device_id: deviceId, limit: 15 });
    clear(events, h("h2", "Recent events"),
      page.items.length ? h("ul.plain", page.items.map((e) => h("li", badge(e.severity), " ", h("b", e.event_type),
        ` on ${e.stream_id}${e.zone_id ? ` · zone ${e.zone_id}` : ""} · ${when(e.started_at)}`))) : h("p.muted", "No events."),
      h("p", h("a", { href: "#/events" }, "All live events →")));
  }

  const load = (fn, box) => fn().catch((err) => notice(box, err.message));
  let hb = await loadHealth().catch((err) => { notice(health, err.message); return null; });
  load(() => loadDeployments(hb), deployments);
  load(loadCompleteness, completeness);
  load(loadEvents, events);
  heartbeatCharts(history, deviceId);

  const offs = [
    subscribe("device_status_update", (m) => {
      if (m.device_id !== deviceId) return;
      clear(statusCell, badge(m.presence));
      clear(seen, ago(m.changed_at));
    }),
    subscribe("device_heartbeat", (m) => {
      if (m.device_id !== deviceId) return;
      hb = showHealth(m.heartbeat);
      clear(seen, ago(m.received_at));
      load(loadCompleteness, completeness); // the heartbeat says the last seq sent
    }),
    subscribe("new_event", (m) => { if (m.device_id === deviceId) load(loadEvents, events); }),
    subscribe("pipeline_status_update", (m) => { if (m.device_id === deviceId) load(() => loadDeployments(hb), deployments); }),
  ];
  return () => offs.forEach((f) => f());
}

function tile(label, value) {
  return h("div.tile", h("dt", label), h("dd", value));
}
