// A duty officer's actions on a report (take/give back, validate, return, urgent), as buttons shared
// by the report panel and the triage queue; the node's answer goes into the store.
import { ApiError, post, type Report } from "./api";
import { h, toast } from "./dom";
import { t } from "./i18n";
import { isDutyOfficer, reportsReceived, state } from "./store";

async function act(r: Report, action: string, body?: unknown): Promise<boolean> {
  try {
    const doc = await post<Report>(`/reports/${r.id}/${action}`, body);
    if (doc && doc.id) reportsReceived([doc]);
    return true;
  } catch (e) {
    toast(e instanceof ApiError && e.status === 404 && action !== "validate" ? t("not_available") : `${t("error")}: ${(e as Error).message}`, "error");
    return false;
  }
}

/** Duty-officer actions, each one step: take/give back, validate, return with a reason, urgent. */
export function actions(r: Report, compact = false): HTMLElement | null {
  if (!isDutyOfficer()) return null;
  const mine = r.owner_country === state.me?.country;
  const box = h("div.actions", {});
  const open = r.state === "submitted";
  if (mine && open && !r.handler) box.append(h("button", { onclick: () => act(r, "claim"), "data-act": "claim" }, t("claim")));
  if (mine && open && r.handler) box.append(h("button.ghost", { onclick: () => act(r, "unclaim"), "data-act": "unclaim" }, t("unclaim")));
  if (mine && open) box.append(h("button.ok", { onclick: () => act(r, "validate"), "data-act": "validate" }, t("validate")));
  if (mine && open) {
    const reason = h("input", { placeholder: t("return_reason"), "aria-label": t("return_reason"), dir: "auto", "data-act": "return-reason" });
    const ret = () => { if (!reason.value.trim()) { reason.focus(); reason.classList.add("invalid"); return; } void act(r, "return", { reason: reason.value.trim() }); };
    reason.addEventListener("keydown", (e) => { if (e.key === "Enter") ret(); });
    box.append(h("span.inline", {}, reason, h("button.warn", { onclick: ret, "data-act": "return" }, t("return"))));
  }
  if (!compact || !r.urgent) {
    const note = h("input", { placeholder: t("urgent_note"), "aria-label": t("urgent_note"), dir: "auto", "data-act": "urgent-note" });
    const flag = () => act(r, "urgent", { urgent: !r.urgent, note: note.value.trim() });
    note.addEventListener("keydown", (e) => { if (e.key === "Enter") void flag(); });
    box.append(h("span.inline", {}, r.urgent ? null : note, h("button.danger", { onclick: flag, "data-act": "urgent" }, r.urgent ? t("urgent_clear") : t("urgent_flag"))));
  }
  return box;
}

