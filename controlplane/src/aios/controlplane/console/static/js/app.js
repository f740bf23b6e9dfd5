// The shell: sign-in gate, navigation, hash router. Each page module exports
// render(main, params) and may return a cleanup function called when the page is left.

import { api, onSessionChange, signOut, signedIn } from "./api.js";
import { ctx } from "./context.js";
import { clear, h } from "./dom.js";
import { onLiveState, startLive, stopLive } from "./live.js";
import * as analytics from "./pages/analytics.js";
import * as device from "./pages/device.js";
import * as events from "./pages/events.js";
import * as fleet from "./pages/fleet.js";
import * as pipelines from "./pages/pipelines.js";
import * as settings from "./pages/settings.js";
import * as signin from "./pages/signin.js";

const ROUTES = [
  [/^#?\/?(fleet)?$/, fleet.render, "fleet"],
  [/^#\/device\/([^/]+)$/, device.render, "fleet"],
  [/^#\/events$/, events.render, "events"],
  [/^#\/analytics$/, analytics.render, "analytics"],
  [/^#\/pipelines$/, pipelines.renderList, "pipelines"],
  [/^#\/pipelines\/([^/]+)$/, pipelines.renderOne, "pipelines"],
  [/^#\/settings$/, settings.render, "settings"],
];

const main = document.getElementById("main");
const topbar = document.querySelector(".topbar");
let cleanup = null;

async function route() {
  if (cleanup) { try { cleanup(); } catch (_) { /* ignore */ } cleanup = null; }
  if (!signedIn()) {
    topbar.hidden = true;
    stopLive();
    ctx.me = null;
    document.title = "Sign in · AIOS console";
    // Signed in, the focus goes to the new page's content (the form that had it is gone).
    cleanup = signin.render(main, { onDone: () => { main.focus({ preventScroll: true }); route(); } }) || null;
    return;
  }
  if (!ctx.me) {
    try {
      ctx.me = await api.get("/api/v1/auth/me");
    } catch (err) {
      clear(main, h("p.notice.notice-error", { role: "alert" }, `Cannot load your account: ${err.message}`));
      return;
    }
    topbar.querySelector(".user").textContent = `${ctx.me.user.full_name} · ${ctx.me.user.role} · ${ctx.me.organization.name}`;
    document.body.dataset.role = ctx.me.user.role;
  }
  topbar.hidden = false;
  startLive();
  const hash = location.hash || "#/fleet";
  for (const [re, render, nav] of ROUTES) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of topbar.querySelectorAll("[data-nav]")) {
      if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    clear(main);
    cleanup = (await render(main, m.slice(1).map(decodeURIComponent))) || null;
    return;
  }
  clear(main, h("h1", "Not found"), h("p", h("a", { href: "#/fleet" }, "Back to the fleet")));
}

onLiveState((on) => {
  const dot = topbar.querySelector(".live-dot");
  dot.dataset.live = on ? "on" : "off";
  dot.textContent = on ? "live" : "offline";
});

onSessionChange((s) => { if (s === null && ctx.me !== null) route(); });

topbar.querySelector(".signout").addEventListener("click", async () => {
  await signOut();
  ctx.me = null;
  location.hash = "#/fleet";
  route();
});

// The skip link moves the focus to the content; it must not follow its "#main" (the hash is the
// router's, and "#main" is no page).
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", () => { route(); main.focus({ preventScroll: true }); });
route();
