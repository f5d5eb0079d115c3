// The side panel: one report (all fields, versions, audience, actions) or the form to file one.
// It shows what the store says is open, and re-reads an open report when it changes.
import { forward as toMgrs, toPoint } from "mgrs";
import { ApiError, get, post, type Report } from "./api";
import { actions } from "./actions";
import { h, toast } from "./dom";
import { ago, num, t, tx, when } from "./i18n";
import { SINGLE_ZOOM } from "./mapview";
import { focusRequested, panelClosed, pointPicked, reportSelected, reportsReceived, state, subscribe } from "./store";

let panel: HTMLElement;
/** The copy of the open report the panel shows (a newer one in the store is shown again). */
let shownDoc: Report | null = null;
/** While the form is open: puts a picked point into its fields. */
let fillPoint: ((lat: number, lon: number) => void) | null = null;

export function initPanel(el: HTMLElement) {
  panel = el;
  subscribe(["panel"], () => {
    const p = state.panel;
    shownDoc = null; fillPoint = null;
    if (!p) { panel.hidden = true; panel.replaceChildren(); }
    else if (p.kind === "form") renderForm();
    else void showReport(p.id, p.fly);
  });
  subscribe(["reports"], (change) => {
    const p = state.panel;
    if (p?.kind !== "report" || !change) return;
    if (change.removed.includes(p.id)) panelClosed();
    else if (shownDoc && change.upserted.includes(p.id) && state.reports.get(p.id) !== shownDoc) void showReport(p.id, false);
  });
  subscribe(["pick"], () => { if (fillPoint && state.picked) fillPoint(state.picked.lat, state.picked.lon); });
}

/** After a change of language. */
export function refreshOpen() { if (state.panel?.kind === "report") void showReport(state.panel.id, false); }

function row(label: string, value: Node | string | null | undefined) {
  return h("div.row", {}, h("dt", {}, label), h("dd", {}, value ?? "—"));
}
const free = (s: string | null | undefined) => h("span", { dir: "auto" }, s || "—");

async function showReport(id: string, fly: boolean) {
  let r = state.reports.get(id);
  try { r = await get("/reports/{report_id}", { report_id: id }); } catch (e) {
    if (!r) { toast(`${t("error")}: ${(e as Error).message}`, "error"); return; }
  }
  const p = state.panel;
  if (p?.kind !== "report" || p.id !== id) return;  // another one was opened meanwhile
  shownDoc = r;
  reportsReceived([r]);
  if (fly) focusRequested(r.location, SINGLE_ZOOM);
  const partner = r.owner_country !== state.me?.country;
  const links = h("ul.links", {}, r.links.length ? r.links.map((l) => h("li", {}, h("a", { href: `#report/${l}`, onclick: (e: Event) => { e.preventDefault(); reportSelected(l); } }, state.reports.has(l) ? `${tx(state.reports.get(l)!.type)} · ${l.slice(0, 8)}` : l.slice(0, 8)))) : [t("none")]);
  const versions = h("ol.versions", {}, "…");
  const body = h("section.report", { "data-testid": "report-panel", "data-id": r.id },
    h("header", {},
      h("h2", {}, tx(r.type), r.urgent ? h("span.badge.urgent", {}, t("urgent")) : null, partner ? h("span.badge.partner", { title: t("partner_data", { c: r.owner_country }) }, r.owner_country) : null),
      h("button.close", { onclick: () => panelClosed(), title: t("close"), "aria-label": t("close") }, "×")),
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
    const v = await get("/reports/{report_id}/versions", { report_id: id });
    versions.replaceChildren(...v.items.map((x) => h("li", {}, `v${num(x.version)} · ${when(x.updated_at)} · ${x.updated_by ?? x.author} · ${tx(x.state)}`)));
  } catch { versions.replaceChildren(h("li", {}, "—")); }
}

// ---- the form: file a report from the map
function renderForm() {
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
  fillPoint = (lat: number, lon: number) => {
    f.lat.value = lat.toFixed(5); f.lon.value = lon.toFixed(5);
    try { f.mgrs.value = toMgrs([lon, lat], 5); } catch { f.mgrs.value = ""; }
  };
  // A typed point goes the way of a picked one: the map marks it, then the fields show it.
  const setPoint = (lat: number, lon: number) => pointPicked({ lat, lon });
  f.mgrs.addEventListener("change", () => {
    try { const [lon, lat] = toPoint(f.mgrs.value.replace(/\s+/g, "").toUpperCase()); setPoint(lat, lon); f.mgrs.classList.remove("invalid"); } catch { f.mgrs.classList.add("invalid"); }
  });
  const fromLatLon = () => { const lat = Number(f.lat.value), lon = Number(f.lon.value); if (f.lat.value && f.lon.value && isFinite(lat) && isFinite(lon)) setPoint(lat, lon); };
  f.lat.addEventListener("change", fromLatLon); f.lon.addEventListener("change", fromLatLon);
  const err = h("p.error", { role: "alert" });
  const submit = h("button.ok", { type: "submit", "data-testid": "file-submit" }, t("save"));
  const form = h("form.report-form", { "data-testid": "report-form", novalidate: true },
    h("header", {}, h("h2", {}, t("new_report")), h("button.close", { type: "button", onclick: () => panelClosed(), "aria-label": t("close") }, "×")),
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
    h("div.actions", {}, submit, h("button.ghost", { type: "button", onclick: () => panelClosed() }, t("cancel"))));
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
      reportsReceived([doc]);
      toast(t("filed"));
      reportSelected(doc.id, true);
    } catch (x) {
      err.textContent = `${t("error")}: ${(x as Error).message}${x instanceof ApiError && x.field ? ` (${x.field})` : ""}`;
    } finally { submit.disabled = false; }
  });
  panel.replaceChildren(form);
  panel.hidden = false;
  f.type.focus();
}

