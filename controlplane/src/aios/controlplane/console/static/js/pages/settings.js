// Settings: users and roles (admins and owners), webhooks and their delivery log.

import { api } from "../api.js";
import { can, ctx } from "../context.js";
import { badge, clear, confirmAction, field, h, notice, when } from "../dom.js";

const ROLES = ["viewer", "operator", "admin", "owner"];

export async function render(main) {
  const me = ctx.me;
  clear(main, h("div.page-head", h("h1", "Settings")),
    h("section.card", h("h2", "You"), h("p", `${me.user.full_name} <${me.user.email}>, `, badge(me.user.role), ` in ${me.organization.name}`)),
    can("admin") ? users() : h("section.card", h("h2", "Users"), h("p.muted", "Only admins and owners manage users.")),
    can("operator") ? webhooks() : h("section.card", h("h2", "Webhooks"), h("p.muted", "Operators and above see webhooks.")));
}

function users() {
  const box = h("section.card", h("h2", "Users and roles"));
  const tbody = h("tbody");
  const status = h("div", { "aria-live": "polite" });
  async function load() {
    const page = await api.get("/api/v1/organizations/users", { limit: 200 });
    clear(tbody, page.items.map((u) => {
      const role = h("select", { "aria-label": `Role of ${u.email}` }, ROLES.map((r) => h("option", { value: r }, r)));
      role.value = u.role;
      role.addEventListener("change", async () => {
        try { await api.patch(`/api/v1/organizations/users/${u.id}`, { role: role.value }); notice(status, `${u.email} is now ${role.value}.`, "ok"); } catch (err) { role.value = u.role; notice(status, err.message); }
      });
      const active = h("button.small", { type: "button" }, u.is_active ? "Deactivate" : "Activate");
      active.addEventListener("click", async () => {
        try { await api.patch(`/api/v1/organizations/users/${u.id}`, { is_active: !u.is_active }); load(); } catch (err) { notice(status, err.message); }
      });
      return h("tr", h("td", u.full_name), h("td", u.email), h("td", role), h("td", u.is_active ? "active" : badge("inactive", "offline")), h("td", active));
    }));
  }
  const email = h("input", { type: "email", name: "email", required: true });
  const name = h("input", { name: "full_name", required: true });
  const password = h("input", { type: "password", name: "password", minlength: 10, required: true, autocomplete: "new-password" });
  const role = h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r }, r)));
  const form = h("form.inline", {
    "aria-label": "Add a user",
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api.post("/api/v1/organizations/users", { email: email.value.trim(), full_name: name.value.trim(), password: password.value, role: role.value });
        form.reset();
        notice(status, "User added.", "ok");
        load();
      } catch (err) { notice(status, err.field ? `${err.field}: ${err.message}` : err.message); }
    },
  }, field("Name", name), field("Email", email), field("Initial password", password), field("Role", role), h("button.primary", { type: "submit" }, "Add user"));
  box.append(h("div.table-wrap", h("table.data", { "aria-label": "Users" }, h("thead", h("tr", ["Name", "Email", "Role", "State", ""].map((c) => h("th", { scope: "col" }, c)))), tbody)),
    h("h3", "Add a user"), form, status);
  load().catch((err) => notice(status, err.message));
  return box;
}

function webhooks() {
  const box = h("section.card", h("h2", "Webhooks"));
  const list = h("div");
  const status = h("div", { "aria-live": "polite" });
  async function deliveries(w, into) {
    const page = await api.get(`/api/v1/notifications/webhooks/${w.id}/deliveries`, { limit: 20 });
    clear(into, page.items.length ? h("table.data", { "aria-label": `Deliveries of ${w.name}` },
      h("thead", h("tr", ["When", "Event", "Status", "Attempts", "HTTP", "Error"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", page.items.map((d) => h("tr", h("td", when(d.created_at)), h("td", `${d.event_type} (${d.severity})`), h("td", badge(d.status)),
        h("td", d.attempts), h("td", d.last_status_code ?? "–"), h("td", d.last_error || ""))))) : h("p.muted", "No deliveries yet."));
  }
  async function load() {
    const page = await api.get("/api/v1/notifications/webhooks", { limit: 100 });
    clear(list, page.items.length ? page.items.map((w) => {
      const log = h("div");
      const actions = can("admin") ? h("div.actions",
        h("button.small", { type: "button", onclick: async () => { await api.patch(`/api/v1/notifications/webhooks/${w.id}`, { enabled: !w.enabled }); load(); } }, w.enabled ? "Disable" : "Enable"),
        h("button.small", { type: "button", onclick: async () => {
          try { await api.post(`/api/v1/notifications/webhooks/${w.id}/test`, {}); notice(status, "Test delivery queued.", "ok"); setTimeout(() => deliveries(w, log), 3000); } catch (err) { notice(status, err.status === 404 || err.status === 405 ? "This control plane has no test delivery." : err.message); }
        } }, "Send test"),
        h("button.small.danger", { type: "button", onclick: async () => { if (await confirmAction(`Delete webhook ${w.name}?`, "Delete webhook")) { await api.del(`/api/v1/notifications/webhooks/${w.id}`); load(); } } }, "Delete")) : null;
      deliveries(w, log).catch((err) => notice(log, err.message));
      return h("article.webhook", h("div.page-head", h("h3", w.name), w.enabled ? badge("enabled", "online") : badge("disabled", "offline")),
        h("p", h("code", w.url), ` · types: ${w.event_types.join(", ") || "all"} · severities: ${w.severities.join(", ") || "all"}`), actions, h("h4", "Delivery log"), log);
    }) : h("p.muted", "No webhooks."));
  }
  if (can("admin")) {
    const name = h("input", { name: "webhook_name", required: true });
    const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://example.com/hook" });
    const types = h("input", { name: "event_types", placeholder: "all (or comma-separated)" });
    const sev = h("input", { name: "severities", placeholder: "all (or info, warning, critical)" });
    const split = (el) => el.value.split(",").map((x) => x.trim()).filter(Boolean);
    const form = h("form.inline", {
      "aria-label": "Add a webhook",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const out = await api.post("/api/v1/notifications/webhooks", { name: name.value.trim(), url: url.value.trim(), event_types: split(types), severities: split(sev) });
          form.reset();
          notice(status, `Webhook added. Its signing secret (shown once): ${out.secret}`, "ok");
          load();
        } catch (err) { notice(status, err.field ? `${err.field}: ${err.message}` : err.message); }
      },
    }, field("Name", name), field("URL", url), field("Event types", types), field("Severities", sev), h("button.primary", { type: "submit" }, "Add webhook"));
    box.append(form);
  }
  box.append(status, list);
  load().catch((err) => notice(status, err.message));
  return box;
}
