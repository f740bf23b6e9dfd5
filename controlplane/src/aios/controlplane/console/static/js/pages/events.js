// Live events: the latest events, then new ones as the WebSocket announces them (no reload),
// with their snapshot, type, severity, camera and zone; filters; acknowledgement.

import { api } from "../api.js";
import { can } from "../context.js";
import { badge, clear, field, h, notice, when } from "../dom.js";
import { subscribe } from "../live.js";

const MAX_CARDS = 60;

export async function render(main) {
  const device = h("select", { name: "device" }, h("option", { value: "" }, "All devices"));
  const stream = h("input", { name: "stream", placeholder: "camera id" });
  const type = h("input", { name: "event_type", placeholder: "e.g. person_present" });
  const severity = h("select", { name: "severity" }, ["", "info", "warning", "critical"].map((v) => h("option", { value: v }, v || "Any severity")));
  const feed = h("ol.feed", { "aria-live": "polite", "aria-label": "Events, newest first" });
  const errors = h("div");
  const cards = new Map();
  const urls = [];

  clear(main, h("div.page-head", h("h1", "Live events")),
    h("form.filters", { onsubmit: (e) => { e.preventDefault(); load(); } },
      field("Device", device), field("Camera", stream), field("Type", type), field("Severity", severity),
      h("button", { type: "submit" }, "Apply")),
    errors, feed);

  api.get("/api/v1/fleet", { limit: 200 }).then((page) => {
    for (const d of page.items) device.append(h("option", { value: d.id }, d.name));
  }).catch(() => {});

  const matches = (e) => (!device.value || e.device_id === device.value) && (!stream.value.trim() || e.stream_id === stream.value.trim())
    && (!type.value.trim() || e.event_type === type.value.trim()) && (!severity.value || e.severity === severity.value);

  async function snapshot(img, url, tries = 6) {
    for (let i = 0; i < tries; i += 1) {
      try {
        const blob = await api.blob(url);
        const src = URL.createObjectURL(blob);
        urls.push(src);
        img.src = src;
        img.hidden = false;
        return;
      } catch (err) {
        if (err.status !== 404) return;
        await new Promise((r) => setTimeout(r, 1000 * (i + 1))); // the upload may follow the event
      }
    }
  }

  function card(e) {
    const img = h("img.snapshot", { alt: `Snapshot of ${e.event_type} on ${e.stream_id}`, hidden: true, width: 320, height: 180 });
    const ackBox = h("div.ack");
    const li = h("li.event", { "data-event": e.id, "data-type": e.event_type },
      h("div.thumb", img, e.snapshot_url ? null : h("span.muted.small", "no snapshot")),
      h("div.body",
        h("div", badge(e.severity), " ", h("b.etype", e.event_type), " ", h("span.muted", e.phase)),
        h("div", "Camera ", h("b", e.stream_id), e.zone_id ? [" · zone ", h("b.zone", e.zone_id)] : null,
          e.line_id ? [" · line ", h("b", e.line_id)] : null),
        h("div.muted.small", `${when(e.started_at || e.ts)} · device ${e.device_id}`),
        ackBox));
    if (e.snapshot_url) snapshot(img, e.snapshot_url);
    drawAck(ackBox, e);
    return li;
  }

  // e.ack: undefined (not known), null (not acknowledged) or {user_name, acknowledged_at}.
  function drawAck(box, e) {
    if (e.ack) {
      clear(box, h("span.acked", `Acknowledged by ${e.ack.user_name || "someone"} · ${when(e.ack.acknowledged_at)}`));
    } else if (e.ack === null && can("operator")) {
      const btn = h("button.small.ack-button", { type: "button" }, "Acknowledge");
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        try {
          e.ack = await api.put(`/api/v1/dashboard/events/${encodeURIComponent(e.id)}/ack?device_id=${encodeURIComponent(e.device_id)}`, {});
          drawAck(box, e);
        } catch (err) { btn.disabled = false; notice(errors, err.message); }
      });
      clear(box, btn);
    } else {
      clear(box);
    }
  }

  async function loadAcks(items) {
    if (!items.length) return;
    const q = new URLSearchParams();
    for (const e of items) q.append("event_id", e.id);
    try {
      const acks = await api.get(`/api/v1/dashboard/acknowledgements?${q}`);
      const byId = new Map(acks.map((a) => [`${a.device_id}/${a.event_id}`, a]));
      for (const e of items) e.ack = byId.get(`${e.device_id}/${e.id}`) || null;
    } catch (_) { /* an older control plane: no acknowledgements */ }
  }

  function put(e, { prepend }) {
    const old = cards.get(e.id);
    const el = card(e);
    cards.set(e.id, { e, el });
    if (old) old.el.replaceWith(el);
    else if (prepend) feed.prepend(el);
    else feed.append(el);
    while (feed.children.length > MAX_CARDS) {
      const last = feed.lastElementChild;
      cards.delete(last.dataset.event);
      last.remove();
    }
  }

  async function load() {
    notice(errors, "");
    try {
      const page = await api.get("/api/v1/dashboard/events", {
        device_id: device.value, stream_id: stream.value.trim(), event_type: type.value.trim(), severity: severity.value, limit: 30,
      });
      await loadAcks(page.items);
      cards.clear();
      clear(feed);
      for (const e of page.items) put(e, { prepend: false });
      if (!page.items.length) feed.append(h("li.muted.empty", "No events yet; new ones appear here as they happen."));
    } catch (err) { notice(errors, err.message); }
  }

  const offs = [
    subscribe("new_event", async (m) => {
      if (!matches(m)) return;
      feed.querySelector(".empty")?.remove();
      let e = { id: m.event_id, device_id: m.device_id, stream_id: m.stream_id, event_type: m.event_type, severity: m.severity, phase: m.phase, ts: m.ts, snapshot_url: m.snapshot_url };
      try {
        e = await api.get(`/api/v1/dashboard/events/${encodeURIComponent(m.event_id)}`, { device_id: m.device_id });
        if (!e.snapshot_url && m.snapshot_url) e.snapshot_url = `${m.snapshot_url}?device_id=${encodeURIComponent(m.device_id)}`;
      } catch (_) { /* show what the message says */ }
      const known = cards.get(e.id);
      e.ack = known ? known.e.ack : undefined;
      if (e.ack === undefined) await loadAcks([e]);
      put(e, { prepend: !known });
    }),
    subscribe("event_acknowledged", (m) => {
      const c = cards.get(m.event_id);
      if (!c) return;
      c.e.ack = { user_name: m.user_name, acknowledged_at: m.acknowledged_at };
      drawAck(c.el.querySelector(".ack"), c.e);
    }),
  ];
  await load();
  return () => { offs.forEach((f) => f()); urls.forEach((u) => URL.revokeObjectURL(u)); };
}
