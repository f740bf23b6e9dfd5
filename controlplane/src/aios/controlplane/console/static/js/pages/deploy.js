// The deploy form of a pipeline: version, devices and/or tags, all at once or as a canary.

import { api } from "../api.js";
import { clear, field, h, notice } from "../dom.js";

export function deployForm(pipeline, devices, onDeployed) {
  const version = h("input", { type: "number", name: "version", min: 1, max: pipeline.current_version, value: pipeline.current_version });
  const picks = devices.map((d) => h("input", { type: "checkbox", name: "device", value: d.id }));
  const tags = h("input", { name: "tags", placeholder: "comma-separated" });
  const mode = h("select", { name: "mode" }, h("option", { value: "all" }, "All at once"), h("option", { value: "canary" }, "Canary first"));
  const share = h("input", { type: "number", name: "share", min: 1, max: 99, value: 10 });
  const healthy = h("input", { type: "number", name: "healthy_for_s", min: 0, value: 300 });
  const canary = h("div.inline", { hidden: true }, field("Canary share (%)", share), field("Healthy for (s)", healthy));
  mode.addEventListener("change", () => { canary.hidden = mode.value !== "canary"; });
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", {
    "aria-label": "Deploy",
    onsubmit: async (e) => {
      e.preventDefault();
      const body = {
        version: Number(version.value),
        device_ids: picks.filter((p) => p.checked).map((p) => p.value),
        tags: tags.value.split(",").map((x) => x.trim()).filter(Boolean),
      };
      if (mode.value === "canary") body.canary = { share: Number(share.value) / 100, healthy_for_s: Number(healthy.value) };
      if (!body.device_ids.length && !body.tags.length) { notice(status, "Choose devices or tags."); return; }
      try {
        const d = await api.post(`/api/v1/pipelines/${pipeline.id}/execute`, body);
        notice(status, `Deploying v${d.version} to ${d.targets.length} device(s).`, "ok");
        onDeployed(d);
      } catch (err) { notice(status, err.field ? `${err.field}: ${err.message}` : err.message); }
    },
  },
  field("Version", version),
  h("fieldset", h("legend", "Devices"), devices.length ? devices.map((d, i) => h("label.check", picks[i], ` ${d.name} `, h("span.muted.small", d.status))) : h("p.muted", "No devices.")),
  field("Tags", tags), field("Rollout", mode), canary, status,
  h("button.primary.deploy", { type: "submit" }, "Deploy"));
  return [h("h2", "Deploy"), form];
}
