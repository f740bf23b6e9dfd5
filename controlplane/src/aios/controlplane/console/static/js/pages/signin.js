// Sign in; or, on a new installation, create the first organization and its owner.

import { register, signIn } from "../api.js";
import { clear, field, h, notice } from "../dom.js";

export function render(main, { onDone }) {
  let mode = "signin";
  const box = h("section.card.signin");
  const draw = () => {
    const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
    const password = h("input", { type: "password", name: "password", autocomplete: mode === "signin" ? "current-password" : "new-password", required: true, minlength: mode === "signin" ? 1 : 10 });
    const fullName = h("input", { name: "full_name", autocomplete: "name", required: true });
    const org = h("input", { name: "organization_name", autocomplete: "organization", required: true });
    const status = h("div", { "aria-live": "polite" });
    const submit = h("button.primary", { type: "submit" }, mode === "signin" ? "Sign in" : "Create organization");
    const form = h("form", { novalidate: false },
      mode === "register" ? [field("Your name", fullName), field("Organization", org)] : null,
      field("Email", email),
      field("Password", password, mode === "register" ? "At least 10 characters." : null),
      status,
      submit,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      submit.disabled = true;
      notice(status, "");
      try {
        if (mode === "signin") await signIn(email.value.trim(), password.value);
        else await register({ email: email.value.trim(), password: password.value, full_name: fullName.value.trim(), organization_name: org.value.trim() });
        onDone();
      } catch (err) {
        notice(status, err.status === 401 ? "Wrong email or password." : err.field ? `${err.field}: ${err.message}` : err.message);
        submit.disabled = false;
      }
    });
    const other = h("button.link", { type: "button" }, mode === "signin" ? "New installation? Create the first organization" : "Already have an account? Sign in");
    other.addEventListener("click", () => { mode = mode === "signin" ? "register" : "signin"; draw(); });
    clear(box,
      h("h1", mode === "signin" ? "Sign in to AIOS" : "Create the first organization"),
      mode === "register" ? h("p.muted", "You become its owner; add operators and viewers from Settings.") : null,
      form, h("p", other));
    (mode === "register" ? fullName : email).focus();
  };
  clear(main, h("div.center", box));
  draw();
}
