// The top bar (search, filters, new report, chat, triage, language, who is logged in) and the
// status line in it (live or not, how many reports and units are shown).
import { chatButton } from "./field";
import { opsButton } from "./ops";
import { $, batched, h, toast } from "./dom";
import { digits, lang, num, onLanguage, setDigits, setLang, t, tx, type Lang } from "./i18n";
import { activeFilterCount, filtersToggled, formOpened, isDutyOfficer, searched, state, subscribe, triageToggled, visibleReports } from "./store";

let filtersButton: HTMLElement | null = null;

export function initTopbar(actions: { logout(): void }) {
  const render = () => renderTopbar(actions);
  subscribe(["session"], render);
  onLanguage(render);
  subscribe(["query", "view"], () => renderFilterCount());
  subscribe(["reports", "units", "query", "view", "live"], renderStatus);
}

export function langSwitch() {
  return h("select.lang", { "aria-label": t("language"), "data-testid": "lang", onchange: (e: Event) => setLang((e.target as HTMLSelectElement).value as Lang) },
    (["ar", "fr", "en"] as Lang[]).map((l) => h("option", { value: l, selected: l === lang }, l === "ar" ? "العربية" : l === "fr" ? "Français" : "English")));
}

function renderTopbar(actions: { logout(): void }) {
  const me = state.me;
  if (!me) return;
  const search = h("input.search", { type: "search", id: "search", placeholder: t("search"), value: state.filters.q, "aria-label": t("search"), dir: "auto", "data-testid": "search" });
  let deb: number | undefined;
  search.addEventListener("input", () => { window.clearTimeout(deb); deb = window.setTimeout(() => searched(search.value), 350); });
  search.addEventListener("keydown", (e) => { if (e.key === "Escape") search.blur(); });
  const digitsSel = lang === "ar" ? h("select", { "aria-label": t("digits"), "data-testid": "digits", onchange: (e: Event) => setDigits((e.target as HTMLSelectElement).value as "latn" | "arab") },
    h("option", { value: "latn", selected: digits === "latn" }, t("digits_latn")), h("option", { value: "arab", selected: digits === "arab" }, t("digits_arab"))) : null;
  filtersButton = h("button", { onclick: () => filtersToggled(), "aria-keyshortcuts": "f", title: "f" });
  renderFilterCount();
  $("#topbar").replaceChildren(...[
    h("div.brand", {}, h("b", {}, "Fossatum"), h("span", {}, `${state.node?.name ?? ""}`)),
    search,
    filtersButton,
    h("button.ok", { onclick: () => formOpened(), "aria-keyshortcuts": "n", title: "n", "data-testid": "new-report" }, "+ ", t("new_report")),
    chatButton(),
    opsButton(),
    isDutyOfficer() ? h("button", { onclick: () => triageToggled(), "aria-keyshortcuts": "t", title: "t", "data-testid": "triage-button" }, t("triage")) : null,
    h("span.spacer"),
    h("span.status", { id: "status", "data-testid": "status" }),
    langSwitch(), digitsSel,
    h("span.me", { title: me.roles.map(tx).join(", ") }, `${me.full_name || me.username} · ${me.agency}`),
    h("button.ghost", { onclick: () => actions.logout(), "data-testid": "logout" }, t("logout")),
    h("button.ghost", { onclick: () => toast(t("keys_help"), "info", 8000), title: "?" }, "?")].filter((x): x is HTMLElement => !!x));
  renderStatus();
}

function renderFilterCount() {
  const n = activeFilterCount();
  filtersButton?.replaceChildren(t("filters"), n ? h("span.count", {}, num(n)) : "");
}

const renderStatus = batched(() => {
  const el = document.getElementById("status");
  if (!el) return;
  const n = visibleReports().length;
  const live = state.playAt !== null ? t("playback") : state.live === "live" ? t("live") : state.live === "offline" ? t("offline") : t("live_off");
  el.replaceChildren(h("span", { class: `dot ${state.playAt !== null ? "play" : state.live}` }), `${live} · ${num(n)} ${t("reports")} · ${num(state.units.size)} ${t("units")}`);
  el.dataset.shown = String(n);
});
