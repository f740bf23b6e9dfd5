// Building DOM without a framework: h("tag.class", {attrs}, ...children), and formatting.

export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className += (el.className ? " " : "") + v;
    else if (k === "text") el.textContent = v;
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function ago(value) {
  if (!value) return "never";
  const t = typeof value === "number" ? value * 1000 : Date.parse(value);
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function when(value) {
  if (!value) return "";
  const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return d.toLocaleString();
}

export function badge(text, kind) {
  return h("span.badge", { class: `badge-${kind || text}` }, text);
}

/** A labelled form field; returns [wrapper, input]. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div.field", h("label", { for: id }, label), input, hint ? h("small", hint) : null);
}

export function notice(el, message, kind = "error") {
  clear(el, message ? h("p.notice", { class: `notice-${kind}`, role: kind === "error" ? "alert" : "status" }, message) : null);
}

export function download(name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * Asks to confirm a destructive action in a modal <dialog>: focus moves into it (on Cancel,
 * the safe choice), stays there (showModal makes the page behind it inert), Escape cancels,
 * and focus returns to what had it when the dialog closes. Resolves true when confirmed.
 */
export function confirmAction(message, actionLabel) {
  const opener = document.activeElement;
  const titleId = `d-${Math.random().toString(36).slice(2, 9)}`;
  const cancel = h("button", { type: "button", value: "cancel" }, "Cancel");
  const ok = h("button.danger", { type: "button", value: "ok" }, actionLabel);
  const dialog = h("dialog.confirm", { "aria-labelledby": titleId },
    h("p", { id: titleId }, message), h("div.actions", cancel, ok));
  document.body.append(dialog);
  return new Promise((resolve) => {
    let answer = false;
    cancel.addEventListener("click", () => dialog.close());
    ok.addEventListener("click", () => { answer = true; dialog.close(); });
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(answer);
    });
    dialog.showModal();
    cancel.focus();
  });
}
