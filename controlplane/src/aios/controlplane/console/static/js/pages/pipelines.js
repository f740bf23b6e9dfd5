// Pipelines: the list; one pipeline's versions, diff, spec editor (validation errors shown at
// the node and field the API names), deployment to devices or tags (canary or all) with live
// rollout progress.

import { api } from "../api.js";
import { can } from "../context.js";
import { badge, clear, confirmAction, field, h, notice, when } from "../dom.js";
import { subscribe } from "../live.js";
import { deployForm } from "./deploy.js";

export async function renderList(main) {
  const tbody = h("tbody");
  const errors = h("div");
  clear(main, h("div.page-head", h("h1", "Pipelines")), errors,
    h("div.table-wrap", h("table.data", { "aria-label": "Pipelines" },
      h("thead", h("tr", ["Name", "Version", "Description", "Updated"].map((c) => h("th", { scope: "col" }, c)))), tbody)),
    can("operator") ? createForm() : null);
  try {
    const page = await api.get("/api/v1/pipelines", { limit: 200 });
    clear(tbody, page.items.length ? page.items.map((p) => h("tr",
      h("td", h("a", { href: `#/pipelines/${p.id}` }, p.name)), h("td", `v${p.current_version}`),
      h("td", p.description), h("td", when(p.updated_at)))) : h("tr", h("td", { colspan: 4 }, "No pipelines yet.")));
  } catch (err) { notice(errors, err.message); }
}

function createForm() {
  const name = h("input", { name: "name", required: true });
  const spec = h("textarea.code", { name: "spec", rows: 10, spellcheck: "false" }, JSON.stringify({
    name: "new", nodes: [
      { id: "cam", type: "source", params: { kind: "rtsp", uri: "rtsp://camera/stream" } },
      { id: "det", type: "detect", params: {} },
      { id: "out", type: "sink", params: { kind: "mqtt_detections" } }],
    edges: [{ source: "cam", target: "det" }, { source: "det", target: "out" }] }, null, 2));
  const status = h("div", { "aria-live": "polite" });
  return h("section.card", h("h2", "New pipeline"), h("form", {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const created = await api.post("/api/v1/pipelines", { name: name.value.trim(), spec: JSON.parse(spec.value) });
        location.hash = `#/pipelines/${created.id}`;
      } catch (err) {
        notice(status, err.node ? `Node ${err.node}, ${err.field}: ${err.message}` : err.message);
      }
    },
  }, field("Name", name), field("Spec (JSON)", spec), status, h("button.primary", { type: "submit" }, "Create")));
}

/** The spec as node cards; ``error`` ({node, field, message}) marks the node and the field. */
function nodeView(spec, error) {
  if (!spec || !Array.isArray(spec.nodes)) return h("p.muted", "The spec has no nodes list.");
  const edges = Array.isArray(spec.edges) ? spec.edges : [];
  return h("ol.nodes", spec.nodes.map((n) => {
    const bad = error && error.node === n.id;
    const fieldName = bad && error.field ? error.field.replace(/^params\./, "") : null;
    const params = Object.entries((n && n.params) || {});
    if (bad && fieldName && !params.some(([k]) => k === fieldName) && error.field.startsWith("params.")) params.push([fieldName, undefined]);
    const next = edges.filter((e) => e.source === n.id).map((e) => e.target);
    return h("li.node", { "data-node": n.id, class: bad ? "invalid" : null, "aria-invalid": bad ? "true" : null },
      h("div.node-head", h("b", n.id), " ", h("span.tag", n.type), next.length ? h("span.muted.small", ` → ${next.join(", ")}`) : null),
      params.length ? h("dl.params", params.map(([k, v]) => {
        const isBad = bad && fieldName === k;
        return h("div", { class: isBad ? "invalid" : null, "data-field": `params.${k}` },
          h("dt", k), h("dd", v === undefined ? h("i", "missing") : JSON.stringify(v)));
      })) : null,
      bad ? h("p.field-error", { role: "alert" }, `${error.field ? `${error.field}: ` : ""}${error.message}`) : null);
  }));
}

export async function renderOne(main, [pipelineId]) {
  const id = encodeURIComponent(pipelineId);
  const errors = h("div");
  const head = h("div.page-head");
  const editorBox = h("section.card");
  const versionsBox = h("section.card");
  const deployBox = h("section.card");
  const rolloutsBox = h("section.card");
  clear(main, h("p", h("a", { href: "#/pipelines" }, "← Pipelines")), head, errors,
    h("div.grid2", editorBox, versionsBox), deployBox, rolloutsBox);

  let pipeline;
  try { pipeline = await api.get(`/api/v1/pipelines/${id}`); } catch (err) { notice(errors, err.message); return null; }
  let devices = [];
  try { devices = (await api.get("/api/v1/fleet", { limit: 200 })).items; } catch (_) { /* no names */ }
  const deviceName = (d) => (devices.find((x) => x.id === d) || { name: d }).name;

  const drawHead = () => clear(head, h("h1", pipeline.name), h("span.muted", `version ${pipeline.current_version}`));
  drawHead();

  // The editor.
  const text = h("textarea.code", { rows: 22, spellcheck: "false", "aria-label": "Pipeline spec (JSON)", readonly: !can("operator") },
    JSON.stringify(pipeline.spec, null, 2));
  const nodes = h("div.node-view", { "aria-live": "polite" });
  const status = h("div", { "aria-live": "polite" });
  let error = null;
  const parsed = () => { try { return JSON.parse(text.value); } catch (_) { return null; } };
  const redraw = () => {
    const spec = parsed();
    clear(nodes, spec ? nodeView(spec, error) : h("p.field-error", { role: "alert" }, "Not valid JSON."));
  };
  text.addEventListener("input", () => { error = null; notice(status, ""); redraw(); });

  async function validate() {
    const spec = parsed();
    if (!spec) { notice(status, "The spec is not valid JSON."); return false; }
    const r = await api.post(`/api/v1/pipelines/${id}/validate`, { spec });
    error = r.valid ? null : r;
    redraw();
    notice(status, r.valid ? "Valid." : `Node ${r.node || "?"}${r.field ? `, ${r.field}` : ""}: ${r.message}`, r.valid ? "ok" : "error");
    return r.valid;
  }
  async function save() {
    if (!(await validate())) return;
    try {
      pipeline = await api.patch(`/api/v1/pipelines/${id}`, { spec: parsed() });
      drawHead();
      notice(status, `Saved as version ${pipeline.current_version}.`, "ok");
      loadVersions();
      refreshDeploy();
    } catch (err) {
      error = err.node ? { node: err.node, field: err.field, message: err.message } : null;
      redraw();
      notice(status, err.message);
    }
  }
  clear(editorBox, h("h2", "Spec"), text,
    can("operator") ? h("div.actions", h("button", { type: "button", onclick: validate }, "Validate"),
      h("button.primary", { type: "button", onclick: save }, "Save as new version")) : null,
    status, h("h3", "Nodes"), nodes);
  redraw();

  // Versions and diff.
  async function loadVersions() {
    const versions = (await api.get(`/api/v1/pipelines/${id}/versions`)).sort((a, b) => a.version - b.version);
    const from = h("select", { "aria-label": "From version" }, versions.map((v) => h("option", { value: v.version }, `v${v.version}`)));
    const to = h("select", { "aria-label": "To version" }, versions.map((v) => h("option", { value: v.version }, `v${v.version}`)));
    const out = h("div.diff", { "aria-live": "polite" });
    if (versions.length > 1) { from.value = versions[versions.length - 2].version; to.value = versions[versions.length - 1].version; }
    const diff = async () => {
      const d = await api.get(`/api/v1/pipelines/${id}/diff`, { from: from.value, to: to.value });
      clear(out, d.changes.length ? h("ul.plain", d.changes.map((c) => h("li", { class: `op-${c.op}` }, h("code", c.path), ` ${c.op}`,
        c.op !== "added" ? [" ", h("del", JSON.stringify(c.before))] : null, c.op !== "removed" ? [" ", h("ins", JSON.stringify(c.after))] : null)))
        : h("p.muted", "No changes."));
    };
    clear(versionsBox, h("h2", "Versions"),
      h("ul.plain", [...versions].reverse().map((v) => h("li", h("b", `v${v.version}`), ` · ${when(v.created_at)}`))),
      h("h3", "Diff"), h("div.inline", from, " → ", to, h("button.small", { type: "button", onclick: diff }, "Compare")), out);
    if (versions.length > 1) diff();
  }
  loadVersions().catch((err) => notice(versionsBox, err.message));

  // Deploy (operators) and rollouts.
  const refreshDeploy = () => {
    if (can("operator")) clear(deployBox, deployForm(pipeline, devices, () => loadRollouts()));
    else deployBox.remove();
  };
  refreshDeploy();

  async function loadRollouts() {
    const listed = await api.get(`/api/v1/pipelines/${id}/deployments`);
    listed.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
    // The list carries counts; the latest few are read whole for their targets.
    const deps = await Promise.all(listed.slice(0, 5).map((d) => api.get(`/api/v1/pipelines/${id}/deployments/${d.id}`)));
    clear(rolloutsBox, h("h2", "Rollouts"), deps.length ? deps.map((d) => {
      const total = d.targets.length || Object.values(d.counts).reduce((a, b) => a + b, 0) || 1;
      const applied = d.counts.applied || 0;
      const decide = (action) => async () => {
        if (action === "abort" && !(await confirmAction("Abort this rollout and roll the canary devices back?", "Abort rollout"))) return;
        try { await api.post(`/api/v1/pipelines/${id}/deployments/${d.id}/${action}`, {}); loadRollouts(); } catch (err) { notice(errors, err.message); }
      };
      const advance = can("operator") && d.stage === "canary" ? h("div.actions",
        h("button.small", { type: "button", onclick: decide("promote") }, "Promote now"),
        h("button.small.danger", { type: "button", onclick: decide("abort") }, "Abort")) : null;
      return h("article.rollout", { "data-deployment": d.id },
        h("div.page-head", h("h3", `v${d.version} · ${when(d.created_at)}`), h("span", badge(d.stage), d.stage_reason ? h("span.muted.small", ` ${d.stage_reason}`) : null)),
        h("progress", { max: total, value: applied, "aria-label": `${applied} of ${total} devices applied` }),
        h("p.small", Object.entries(d.counts).map(([k, v]) => h("span.stat", badge(k), ` ${v}`))),
        h("table.data", h("thead", h("tr", ["Device", "Status", "Canary", "Active", "Error"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", d.targets.map((t) => h("tr", { "data-target": t.device_id },
            h("td", h("a", { href: `#/device/${encodeURIComponent(t.device_id)}` }, deviceName(t.device_id))),
            h("td.target-status", badge(t.status)), h("td", t.canary ? "yes" : ""),
            h("td", t.active_version ? `v${t.active_version}` : "–"),
            h("td", t.error ? `${t.node ? `${t.node}: ` : ""}${t.error}` : ""))))),
        advance);
    }) : h("p.muted", "Not deployed yet."));
  }
  loadRollouts().catch((err) => notice(rolloutsBox, err.message));

  const off = subscribe("pipeline_status_update", (m) => { if (m.pipeline_id === pipelineId) loadRollouts().catch(() => {}); });
  const tick = setInterval(() => loadRollouts().catch(() => {}), 15_000);
  return () => { off(); clearInterval(tick); };
}
