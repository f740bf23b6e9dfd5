// Fleet: devices with live status (WebSocket), tags, search, cameras, last seen, pipeline
// version; enrollment tokens (operators).

import { api } from "../api.js";
import { can } from "../context.js";
import { ago, badge, clear, field, h, notice } from "../dom.js";
import { subscribe } from "../live.js";

function streamsCell(hb) {
  if (!hb) return h("span.muted", "no heartbeat yet");
  if (!hb.streams.length) return h("span.muted", "no cameras");
  return hb.streams.map((st) => h("span.stream", badge(st.state), ` ${st.stream_id} · ${st.fps.toFixed(1)} fps`));
}

export async function render(main) {
  const summaryBox = h("div.summary", { "aria-live": "polite" });
  const search = h("input", { type: "search", placeholder: "Name or id", name: "search" });
  const tag = h("select", { name: "tag" }, h("option", { value: "" }, "All tags"));
  const status = h("select", { name: "status" },
    ["", "online", "offline", "unknown", "maintenance"].map((v) => h("option", { value: v }, v || "Any status")));
  const tbody = h("tbody");
  const table = h("table.data", { "aria-label": "Devices" },
    h("thead", h("tr", ["Device", "Status", "Tags", "Cameras", "Pipeline", "Last seen", "Agent"].map((c) => h("th", { scope: "col" }, c)))),
    tbody);
  const rows = new Map();
  const errors = h("div");

  clear(main,
    h("div.page-head", h("h1", "Fleet"), summaryBox),
    h("form.filters", { role: "search", onsubmit: (e) => { e.preventDefault(); load(); } },
      field("Search", search), field("Tag", tag), field("Status", status),
      h("button", { type: "submit" }, "Filter")),
    errors,
    h("div.table-wrap", table),
    can("operator") ? enrollment() : null);

  async function loadSummary() {
    const s = await api.get("/api/v1/fleet/summary");
    clear(summaryBox,
      h("span.stat", h("b", s.total), " devices"),
      ...Object.entries(s.by_status).map(([k, v]) => h("span.stat", badge(k), " ", v)),
      ...Object.entries(s.streams_by_state).map(([k, v]) => h("span.stat", `cameras ${k}: `, h("b", v))));
  }

  async function load() {
    notice(errors, "");
    try {
      const page = await api.get("/api/v1/fleet", { search: search.value.trim(), tag: tag.value, status: status.value, limit: 200 });
      rows.clear();
      clear(tbody, page.items.length ? null : h("tr", h("td", { colspan: 7 }, "No devices yet. Issue an enrollment token below and run the command on the device.")));
      for (const d of page.items) {
        const cells = {
          status: h("td", badge(d.status)),
          seen: h("td", { title: d.last_seen_at || "" }, ago(d.last_seen_at)),
          cams: h("td", h("span.muted", "…")),
          pipe: h("td", "…"),
        };
        const tr = h("tr", { "data-device": d.id },
          h("td", h("a", { href: `#/device/${encodeURIComponent(d.id)}` }, d.name), h("div.muted.small", d.id)),
          cells.status,
          h("td", d.tags.map((t) => h("span.tag", t))),
          cells.cams, cells.pipe, cells.seen,
          h("td", d.agent_version || ""));
        rows.set(d.id, { d, cells });
        tbody.append(tr);
        api.get(`/api/v1/fleet/${encodeURIComponent(d.id)}/heartbeat`).then(({ heartbeat: hb }) => {
          clear(cells.cams, streamsCell(hb));
          clear(cells.pipe, hb && hb.pipeline_version ? `v${hb.pipeline_version}` : h("span.muted", "none"));
        }).catch(() => clear(cells.cams, ""));
      }
      await loadSummary();
    } catch (err) {
      notice(errors, err.message);
    }
  }

  api.get("/api/v1/fleet/tags").then((tags) => {
    for (const t of tags) tag.append(h("option", { value: t.tag }, `${t.tag} (${t.devices})`));
  }).catch(() => {});

  const off = subscribe("device_status_update", (m) => {
    const row = rows.get(m.device_id);
    if (!row) { load(); return; }
    clear(row.cells.status, badge(m.presence));
    clear(row.cells.seen, ago(m.changed_at));
    loadSummary().catch(() => {});
  });
  const tick = setInterval(() => {
    for (const { d, cells } of rows.values()) if (d.last_seen_at) cells.seen.textContent = ago(d.last_seen_at);
  }, 15_000);
  await load();
  return () => { off(); clearInterval(tick); };
}

function enrollment() {
  const list = h("tbody");
  const issued = h("div", { "aria-live": "polite" });
  const name = h("input", { name: "token_name", placeholder: "e.g. lobby gateway" });
  const uses = h("input", { type: "number", name: "max_uses", min: 1, value: 1 });
  const hours = h("input", { type: "number", name: "expires_h", min: 1, max: 720, value: 24 });
  const tags = h("input", { name: "token_tags", placeholder: "comma-separated" });

  async function refresh() {
    const page = await api.get("/api/v1/fleet/enrollment-tokens", { limit: 100 });
    clear(list, page.items.map((t) => {
      const live = !t.revoked_at && Date.parse(t.expires_at) > Date.now() && (t.max_uses === null || t.uses < t.max_uses);
      const revoke = h("button.danger.small", { type: "button", disabled: !live }, "Revoke");
      revoke.addEventListener("click", async () => {
        await api.del(`/api/v1/fleet/enrollment-tokens/${t.id}`);
        refresh();
      });
      return h("tr", h("td", t.name || h("span.muted", "unnamed")), h("td", `${t.uses} / ${t.max_uses ?? "∞"}`),
        h("td", t.tags.map((x) => h("span.tag", x))),
        h("td", t.revoked_at ? badge("revoked") : live ? badge("active", "online") : badge("used up", "offline")),
        h("td", new Date(t.expires_at).toLocaleString()), h("td", revoke));
    }));
  }

  const form = h("form.inline", {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = {
          name: name.value.trim(),
          max_uses: uses.value ? Number(uses.value) : null,
          expires_in_s: Math.round(Number(hours.value || 24) * 3600),
          tags: tags.value.split(",").map((x) => x.trim()).filter(Boolean),
        };
        const out = await api.post("/api/v1/fleet/enrollment-tokens", body);
        const cmd = `aios-agent enroll ${location.origin} --token ${out.token}${body.name ? ` --name '${body.name.replace(/'/g, "")}'` : ""}`;
        const code = h("code.command", cmd);
        const copy = h("button.small", { type: "button" }, "Copy");
        copy.addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(cmd).then(() => { copy.textContent = "Copied"; }));
        clear(issued, h("div.notice.notice-ok", h("p", "Run this on the device (the token is shown only once):"), h("pre", code), copy));
        refresh();
      } catch (err) {
        notice(issued, err.field ? `${err.field}: ${err.message}` : err.message);
      }
    },
  }, field("Name", name), field("Max uses", uses), field("Expires in (hours)", hours), field("Tags", tags),
  h("button.primary", { type: "submit" }, "Issue token"));

  const section = h("section.card",
    h("h2", "Enrollment tokens"), form, issued,
    h("div.table-wrap", h("table.data", { "aria-label": "Enrollment tokens" },
      h("thead", h("tr", ["Name", "Uses", "Tags", "State", "Expires", ""].map((c) => h("th", { scope: "col" }, c)))), list)));
  refresh().catch((err) => notice(issued, err.message));
  return section;
}
