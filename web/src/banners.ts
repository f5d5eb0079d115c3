// Urgent-flag banners for duty officers: newest first, each opens its report or is dismissed.
import { $, h } from "./dom";
import { onLanguage, t, tx, when } from "./i18n";
import { alertDismissed, reportSelected, state, subscribe } from "./store";

export function initBanners() {
  subscribe(["alerts"], renderBanners);
  onLanguage(renderBanners);
}

function renderBanners() {
  const box = $("#alerts");
  if (!box) return;
  box.replaceChildren(...state.alerts.map((a) => {
    const r = a.report ?? state.reports.get(a.report_id);
    return h("div.alert", { "data-testid": "alert", "data-id": a.report_id },
      h("b", {}, t("alert_from", { who: a.by })), " ",
      r ? `${tx(r.type)} · ${when(r.observed_at)} · ${r.owner_agency}` : a.report_id.slice(0, 8),
      a.note ? h("span.note", { dir: "auto" }, ` — ${a.note}`) : null,
      h("button", { onclick: () => { reportSelected(a.report_id); alertDismissed(a.report_id); } }, t("open")),
      h("button.ghost", { onclick: () => alertDismissed(a.report_id), "aria-label": t("dismiss") }, "×"));
  }));
}
