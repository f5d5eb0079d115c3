// The duty officer's triage queue: new / in progress / validated / returned, from the store.
import type { Report } from "./api";
import { actions } from "./actions";
import { h } from "./dom";
import { ago, num, onLanguage, t, tx, when } from "./i18n";
import { HOUR, reportSelected, state, subscribe, triageToggled } from "./store";
import { catchUp } from "./sync";

let box: HTMLElement;
export function initTriage(el: HTMLElement) {
  box = el;
  const refresh = () => { if (!box.hidden) render(); };
  subscribe(["reports", "session"], refresh);
  onLanguage(refresh);
  // Opening the queue fetches the last 7 days of one's own open reports.
  subscribe(["ui"], () => {
    const show = state.triageOpen;
    if (box.hidden === !show) return;
    box.hidden = !show;
    document.body.classList.toggle("triage-open", show);
    if (!show) return;
    render();
    void catchUp("queue");
  });
}

function column(key: string, list: Report[]) {
  list.sort((a, b) => Number(!!b.urgent) - Number(!!a.urgent) || b.observed_at.localeCompare(a.observed_at));
  return h("section.col", { "data-col": key },
    h("h3", {}, t(`q_${key}`), h("span.count", {}, num(list.length))),
    h("ol", {}, list.length ? list.slice(0, 200).map(card) : h("li.empty", {}, t("q_empty"))));
}

function card(r: Report) {
  return h("li.card", { class: `card${r.urgent ? " urgent" : ""}`, "data-id": r.id },
    h("button.title", { onclick: () => reportSelected(r.id) },
      r.urgent ? h("span.badge.urgent", {}, t("urgent")) : null,
      h("b", {}, tx(r.type)), " · ", when(r.observed_at), " · ", ago(r.reported_at)),
    h("div.meta", {}, `${r.owner_agency} · ${r.author}`, r.impact ? h("span", { class: `impact impact-${r.impact}` }, tx(r.impact)) : null,
      h("span.handler", {}, `${t("handler")}: ${r.handler ?? t("nobody")}`)),
    r.urgent && r.urgent_note ? h("div.urgent-note", { dir: "auto" }, r.urgent_note) : null,
    r.returned_reason && r.state === "returned" ? h("div.reason", { dir: "auto" }, `${t("return_reason")}: ${r.returned_reason}`) : null,
    actions(r, true));
}

function render() {
  const mine = [...state.reports.values()].filter((r) => r.owner_country === state.me?.country);
  const dayAgo = new Date(Date.now() - 24 * HOUR).toISOString();
  const cols = {
    new: mine.filter((r) => r.state === "submitted" && !r.handler),
    progress: mine.filter((r) => r.state === "submitted" && !!r.handler),
    validated: mine.filter((r) => r.state === "validated" && (r.validated_at ?? r.updated_at) >= dayAgo),
    returned: mine.filter((r) => r.state === "returned"),
  };
  box.replaceChildren(
    h("header", {}, h("h2", {}, t("triage")), h("button.close", { onclick: () => triageToggled(false), "aria-label": t("close") }, "×")),
    h("div.cols", {}, Object.entries(cols).map(([k, v]) => column(k, v))));
}
