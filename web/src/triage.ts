// The duty officer's triage queue: new / in progress / validated / returned.
import { allReports, type Report } from "./api";
import { h } from "./dom";
import { ago, num, t, tx, when } from "./i18n";
import { actions, changed, openReport } from "./panel";
import { HOUR, noteUpdate, state } from "./store";

let box: HTMLElement;
export function initTriage(el: HTMLElement) {
  box = el;
  changed.push(() => { if (!box.hidden) render(); });
}
export function triageOpen() { return !box.hidden; }

export async function toggleTriage(show = box.hidden) {
  box.hidden = !show;
  document.body.classList.toggle("triage-open", show);
  if (!show) return;
  render();
  await load();
  render();
}

export async function load() {
  const p = new URLSearchParams({ country: state.me!.country, state: "submitted,returned,validated", since: new Date(Date.now() - 7 * 24 * HOUR).toISOString() });
  try {
    for (const r of await allReports(p, 2000, 4000)) { if (!state.reports.has(r.id) || state.reports.get(r.id)!.updated_at <= r.updated_at) state.reports.set(r.id, r); noteUpdate(r); }
  } catch { /* shown as it is */ }
}

function column(key: string, list: Report[]) {
  list.sort((a, b) => Number(!!b.urgent) - Number(!!a.urgent) || b.observed_at.localeCompare(a.observed_at));
  return h("section.col", { "data-col": key },
    h("h3", {}, t(`q_${key}`), h("span.count", {}, num(list.length))),
    h("ol", {}, list.length ? list.slice(0, 200).map(card) : h("li.empty", {}, t("q_empty"))));
}

function card(r: Report) {
  return h("li.card", { class: `card${r.urgent ? " urgent" : ""}`, "data-id": r.id },
    h("button.title", { onclick: () => openReport(r.id) },
      r.urgent ? h("span.badge.urgent", {}, t("urgent")) : null,
      h("b", {}, tx(r.type)), " · ", when(r.observed_at), " · ", ago(r.reported_at)),
    h("div.meta", {}, `${r.owner_agency} · ${r.author}`, r.impact ? h("span", { class: `impact impact-${r.impact}` }, tx(r.impact)) : null,
      h("span.handler", {}, `${t("handler")}: ${r.handler ?? t("nobody")}`)),
    r.urgent && r.urgent_note ? h("div.urgent-note", { dir: "auto" }, r.urgent_note) : null,
    r.returned_reason && r.state === "returned" ? h("div.reason", { dir: "auto" }, `${t("return_reason")}: ${r.returned_reason}`) : null,
    actions(r, true));
}

export function render() {
  const mine = [...state.reports.values()].filter((r) => r.owner_country === state.me?.country);
  const dayAgo = new Date(Date.now() - 24 * HOUR).toISOString();
  const cols = {
    new: mine.filter((r) => r.state === "submitted" && !r.handler),
    progress: mine.filter((r) => r.state === "submitted" && !!r.handler),
    validated: mine.filter((r) => r.state === "validated" && (r.validated_at ?? r.updated_at) >= dayAgo),
    returned: mine.filter((r) => r.state === "returned"),
  };
  box.replaceChildren(
    h("header", {}, h("h2", {}, t("triage")), h("button.close", { onclick: () => toggleTriage(false), "aria-label": t("close") }, "×")),
    h("div.cols", {}, Object.entries(cols).map(([k, v]) => column(k, v))));
}
