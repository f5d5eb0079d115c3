// The login form: a session lasts one shift.
import { login } from "./api";
import { h } from "./dom";
import { t } from "./i18n";
import { langSwitch } from "./topbar";

export function showLogin(root: HTMLElement, message: string, loggedIn: () => Promise<void>) {
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true, dir: "ltr" });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, dir: "ltr" });
  const err = h("p.error", { role: "alert" }, message);
  const form = h("form.login", { "data-testid": "login" },
    h("h1", {}, "Fossatum"), h("p.sub", {}, t("shift")),
    h("label", {}, t("username"), user), h("label", {}, t("password"), pass), err,
    h("button.ok", { type: "submit" }, t("login")), langSwitch());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    try { await login(user.value.trim(), pass.value); await loggedIn(); } catch (x) { err.textContent = `${t("login_failed")}: ${(x as Error).message}`; }
  });
  root.replaceChildren(h("div.login-wrap", {}, form));
  user.focus();
}
