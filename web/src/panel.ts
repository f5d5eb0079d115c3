// The side panel: one report (all fields, versions, audience, actions) or the form to file one.
import { forward as toMgrs, toPoint } from "mgrs";
import { ApiError, get, post, type Report } from "./api";
import { h, toast } from "./dom";
import { ago, num, t, tx, when } from "./i18n";
import { clearPick, focusReport, markPick, pickPoint, scheduleRender } from "./mapview";
import { isDutyOfficer, noteUpdate, state } from "./store";

let panel: HTMLElement;
let current: string | null = null;
let formOpen = false;
export const changed: (() => void)[] = [];

export function initPanel(el: HTMLElement) { panel = el; }
export function panelReportId() { return current; }
export function closePanel() {
  panel.hidden = true; panel.replaceChildren(); current = null;
  if (formOpen) { formOpen = false; pickPoint(null); clearPick(); }
}

export function upsert(r: Report) {
  state.reports.set(r.id, r);
  noteUpdate(r);
  scheduleRender();
  changed.forEach((f) => f());
  if (current === r.id) void openReport(r.id, false);
}
export function remove(id: string) {
  state.reports.delete(id);
  scheduleRender();
  changed.forEach((f) => f());
  if (current === id) closePanel();
}

function row(label: string, value: Node | string | null | undefined) {
  return h("div.row", {}, h("dt", {}, label), h("dd", {}, value ?? "—"));
}
const free = (s: string | null | undefined) => h("span", { dir: "auto" }, s || "—");

export async function openReport(id: string, fly = true) {
  formOpen = false; pickPoint(null); clearPick();
  let r = state.reports.get(id);
  try { r = await get<Report>(`/reports/${id}`); state.reports.set(id, r); } catch (e) {
    if (!r) { toast(`${t("error")}: ${(e as Error).message}`, "error"); return; }
  }
  current = id;
  if (fly) focusReport(r);
  const partner = r.owner_country !== state.me?.country;
  const links = h("ul.links", {}, r.links.length ? r.links.map((l) => h("li", {}, h("a", { href: `#report/${l}`, onclick: (e: Event) => { e.preventDefault(); void openReport(l); } }, state.reports.has(l) ? `${tx(state.reports.get(l)!.type)} · ${l.slice(0, 8)}` : l.slice(0, 8)))) : [t("none")]);
  const versions = h("ol.versions", {}, "…");
  const body = h("section.report", { "data-testid": "report-panel", "data-id": r.id },
    h("header", {},
      h("h2", {}, tx(r.type), r.urgent ? h("span.badge.urgent", {}, t("urgent")) : null, partner ? h("span.badge.partner", { title: t("partner_data", { c: r.owner_country }) }, r.owner_country) : null),
      h("button.close", { onclick: closePanel, title: t("close"), "aria-label": t("close") }, "×")),
    h("p.visible", { "data-testid": "visible-to" }, h("span.tlp", { class: `tlp tlp-${r.tlp.replace("+", "-")}` }, `TLP:${r.tlp}`), " ", t("visible_to", { who: r.visible_to })),
    r.urgent && r.urgent_note ? h("p.urgent-note", { dir: "auto" }, r.urgent_note) : null,
    h("dl", {},
      row(t("state"), h("span", { class: `state state-${r.state}` }, tx(r.state))),
      row(t("handler"), r.handler ?? t("nobody")),
      row(t("observed"), `${when(r.observed_at)} (${ago(r.observed_at)})`),
      row(t("reported"), when(r.reported_at)),
      row(t("location"), `${num(r.location.lat, 5)}, ${num(r.location.lon, 5)} · ${r.location.mgrs ?? ""}`),
      row(t("uncertainty"), `${num(r.uncertainty_m)} ${t("meters")}`),
      row(t("size"), free(r.salute?.size == null ? "" : String(r.salute.size))),
      row(t("activity"), free(r.salute?.activity)),
      row(t("unit"), free(r.salute?.unit)),
      row(t("equipment"), free(r.salute?.equipment)),
      row(t("grade"), r.grade ? r.grade.code : "—"),
      row(t("impact"), r.impact ? h("span", { class: `impact impact-${r.impact}` }, tx(r.impact)) : "—"),
      row(t("reaction"), free(r.reaction)),
      row(t("description"), free(r.description)),
      row(t("author"), r.author),
      row(t("owner"), `${r.owner_agency} · ${tx(r.owner_country)}`),
      row(t("origin"), r.origin),
      row(t("version"), `${num(r.version)} · ${when(r.updated_at)} · ${r.updated_by ?? ""}`),
      r.validated_by ? row(t("validate"), `${r.validated_by} · ${when(r.validated_at)}`) : null,
      r.returned_reason ? row(t("return_reason"), free(r.returned_reason)) : null,
      r.closed_reason ? row(t("reason"), free(r.closed_reason)) : null,
      row(t("links"), links)),
    actions(r),
    h("h3", {}, t("versions")), versions);
  panel.replaceChildren(body);
  panel.hidden = false;
  try {
    const v = await get<{ items: Report[] }>(`/reports/${id}/versions`);
    versions.replaceChildren(...v.items.map((x) => h("li", {}, `v${num(x.version)} · ${when(x.updated_at)} · ${x.updated_by ?? x.author} · ${tx(x.state)}`)));
  } catch { versions.replaceChildren(h("li", {}, "—")); }
}

export async function act(r: Report, action: string, body?: unknown): Promise<boolean> {
  try {
    const doc = await post<Report>(`/reports/${r.id}/${action}`, body);
    if (doc && doc.id) upsert(doc);
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

// ---- the form: file a report from the map
export function openForm(at?: { lat: number; lon: number }) {
  current = null;
  formOpen = true;
  const tax = state.taxonomy!;
  const myCountry = state.me!.country;
  const nowLocal = () => { const d = new Date(); d.setSeconds(0, 0); return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); };
  const f = {
    type: h("select", { name: "type", required: true }, tax.types.map((x) => h("option", { value: x.code }, tx(x.code)))),
    observed: h("input", { type: "datetime-local", name: "observed_at", value: nowLocal() }),
    lat: h("input", { name: "lat", inputmode: "decimal", placeholder: t("lat"), "aria-label": t("lat") }),
    lon: h("input", { name: "lon", inputmode: "decimal", placeholder: t("lon"), "aria-label": t("lon") }),
    mgrs: h("input", { name: "mgrs", placeholder: "32SNE1234567890", "aria-label": t("mgrs"), dir: "ltr" }),
    unc: h("input", { type: "number", name: "uncertainty_m", min: 0, max: 100000, value: 100 }),
    size: h("input", { name: "size", placeholder: "6", dir: "auto" }),
    activity: h("textarea", { name: "activity", rows: 2, dir: "auto" }),
    unit: h("input", { name: "unit", dir: "auto" }),
    equipment: h("input", { name: "equipment", dir: "auto" }),
    gsrc: h("select", { name: "grade_source" }, h("option", { value: "" }, "—"), tax.grade.source.map((s) => h("option", { value: s }, s))),
    ginfo: h("select", { name: "grade_info" }, h("option", { value: "" }, "—"), tax.grade.info.map((s) => h("option", { value: String(s) }, num(s)))),
    impact: h("select", { name: "impact" }, h("option", { value: "" }, "—"), tax.impact_levels.map((s) => h("option", { value: s }, tx(s)))),
    reaction: h("input", { name: "reaction", dir: "auto" }),
    description: h("textarea", { name: "description", rows: 3, dir: "auto" }),
    scope: h("select", { name: "scope" }, ["agency", "national", "partners", "all_partners"].map((s) => h("option", { value: s, selected: s === "national" }, t(`scope_${s}`)))),
    tlp: h("select", { name: "tlp" }, ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"].map((s) => h("option", { value: s, selected: s === "AMBER" }, s))),
  };
  const partners = (state.node?.roster ?? []).filter((c) => c !== myCountry);
  const partnerBoxes = partners.map((c) => h("label.check", {}, h("input", { type: "checkbox", name: "partner", value: c }), ` ${c} · ${tx(c)}`));
  const partnerRow = h("fieldset.partners", {}, h("legend", {}, t("partners")), partnerBoxes);
  const syncScope = () => { partnerRow.hidden = f.scope.value !== "partners"; };
  f.scope.addEventListener("change", syncScope);
  syncScope();
  const setPoint = (lat: number, lon: number) => {
    f.lat.value = lat.toFixed(5); f.lon.value = lon.toFixed(5);
    try { f.mgrs.value = toMgrs([lon, lat], 5); } catch { f.mgrs.value = ""; }
    markPick(lat, lon);
  };
  f.mgrs.addEventListener("change", () => {
    try { const [lon, lat] = toPoint(f.mgrs.value.replace(/\s+/g, "").toUpperCase()); setPoint(lat, lon); f.mgrs.classList.remove("invalid"); } catch { f.mgrs.classList.add("invalid"); }
  });
  const fromLatLon = () => { const lat = Number(f.lat.value), lon = Number(f.lon.value); if (f.lat.value && f.lon.value && isFinite(lat) && isFinite(lon)) setPoint(lat, lon); };
  f.lat.addEventListener("change", fromLatLon); f.lon.addEventListener("change", fromLatLon);
  const err = h("p.error", { role: "alert" });
  const submit = h("button.ok", { type: "submit", "data-testid": "file-submit" }, t("save"));
  const form = h("form.report-form", { "data-testid": "report-form", novalidate: true },
    h("header", {}, h("h2", {}, t("new_report")), h("button.close", { type: "button", onclick: closePanel, "aria-label": t("close") }, "×")),
    h("p.hint", {}, t("pick_point")),
    h("label", {}, t("f_type"), f.type),
    h("div.grid2", {}, h("label", {}, t("lat"), f.lat), h("label", {}, t("lon"), f.lon)),
    h("label", {}, t("mgrs"), f.mgrs),
    h("div.grid2", {}, h("label", {}, t("observed"), f.observed), h("label", {}, `${t("uncertainty")} (${t("meters")})`, f.unc)),
    h("fieldset", {}, h("legend", {}, "SALUTE"),
      h("div.grid2", {}, h("label", {}, t("size"), f.size), h("label", {}, t("unit"), f.unit)),
      h("label", {}, t("activity"), f.activity), h("label", {}, t("equipment"), f.equipment)),
    h("div.grid3", {}, h("label", {}, `${t("grade")} (A–F)`, f.gsrc), h("label", {}, `${t("grade")} (1–6)`, f.ginfo), h("label", {}, t("impact"), f.impact)),
    h("label", {}, t("reaction"), f.reaction),
    h("label", {}, t("description"), f.description),
    h("div.grid2", {}, h("label", {}, t("scope"), f.scope), h("label", {}, t("tlp"), f.tlp)),
    partnerRow, err,
    h("div.actions", {}, submit, h("button.ghost", { type: "button", onclick: closePanel }, t("cancel"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const location = f.lat.value && f.lon.value ? { lat: Number(f.lat.value), lon: Number(f.lon.value) } : f.mgrs.value ? { mgrs: f.mgrs.value.replace(/\s+/g, "").toUpperCase() } : null;
    if (!location) { err.textContent = t("pick_point"); f.mgrs.focus(); return; }
    const size = f.size.value.trim();
    const spec: Record<string, unknown> = {
      type: f.type.value,
      observed_at: f.observed.value ? new Date(f.observed.value).toISOString() : undefined,
      location, uncertainty_m: Number(f.unc.value || 0),
      salute: { size: size === "" ? null : /^\d+$/.test(size) ? Number(size) : size, activity: f.activity.value, unit: f.unit.value, equipment: f.equipment.value },
      reaction: f.reaction.value, description: f.description.value,
      audience: { scope: f.scope.value, partners: f.scope.value === "partners" ? partnerBoxes.map((l) => l.querySelector("input")!).filter((i) => i.checked).map((i) => i.value) : [] },
      tlp: f.tlp.value,
    };
    if (f.gsrc.value && f.ginfo.value) spec.grade = { source: f.gsrc.value, info: Number(f.ginfo.value) };
    if (f.impact.value) spec.impact = f.impact.value;
    submit.disabled = true;
    try {
      const doc = await post<Report>("/reports", spec);
      formOpen = false; pickPoint(null); clearPick();
      upsert(doc);
      toast(t("filed"));
      void openReport(doc.id, true);
    } catch (x) {
      err.textContent = `${t("error")}: ${(x as Error).message}${x instanceof ApiError && x.field ? ` (${x.field})` : ""}`;
    } finally { submit.disabled = false; }
  });
  panel.replaceChildren(form);
  panel.hidden = false;
  pickPoint(setPoint);
  if (at) setPoint(at.lat, at.lon);
  f.type.focus();
}

export function refreshOpen() { if (current) void openReport(current, false); }
