// Fossatum COP page: login, map, time window and playback, filters, report panel, triage, live feed.
import "leaflet/dist/leaflet.css";
import "./style.css";
import { allReports, get, login, logout, session, whenUnauthorized, type Agency, type Me, type NodeInfo, type Report, type Section, type Taxonomy, type Unit } from "./api";
import { $, h, toast } from "./dom";
import { applyDocument, digits, lang, num, onLanguage, setDigits, setLang, t, tx, when, type Lang } from "./i18n";
import { startLive, stopLive, type Alert } from "./live";
import { chatButton, chatMessage, fieldAlert, loadField, renderField, toggleFeed } from "./field";
import { createMap, fitBorder, mapInstance, onRendered, renderPlaces, renderSections, renderUnits, scheduleRender } from "./mapview";
import { closePanel, initPanel, openForm, openReport, panelReportId, refreshOpen, remove, upsert } from "./panel";
import { HOUR, isDutyOfficer, noteUpdate, serverParams, state, type Filters, type Preset } from "./store";
import { initTriage, render as renderTriage, toggleTriage, triageOpen } from "./triage";

const root = document.getElementById("app")!;
applyDocument();
whenUnauthorized(() => { stopLive(); session.clear(); showLogin(t("login_failed")); });

// ---------- login
function showLogin(message = "") {
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
    try { await login(user.value.trim(), pass.value); await start(); } catch (x) { err.textContent = `${t("login_failed")}: ${(x as Error).message}`; }
  });
  root.replaceChildren(h("div.login-wrap", {}, form));
  user.focus();
}

function langSwitch() {
  const sel = h("select.lang", { "aria-label": t("language"), "data-testid": "lang", onchange: (e: Event) => setLang((e.target as HTMLSelectElement).value as Lang) },
    (["ar", "fr", "en"] as Lang[]).map((l) => h("option", { value: l, selected: l === lang }, l === "ar" ? "العربية" : l === "fr" ? "Français" : "English")));
  return sel;
}

// ---------- the application
let layoutBuilt = false;
let pollTimer: number | undefined;
let liveStatus: "live" | "offline" | "unavailable" = "unavailable";

async function start() {
  const [me, node, taxonomy, agencies] = await Promise.all([
    get<Me>("/me"), get<NodeInfo>("/node"), get<Taxonomy>("/taxonomy"), get<{ items: Agency[] }>("/agencies"),
  ]);
  Object.assign(state, { me, node, taxonomy, agencies: agencies.items });
  buildLayout();
  await Promise.all([loadReports(), loadUnits(), loadSections(), loadField()]);
  fitBorder();
  followHash();
  startLive({
    report: (r) => { state.qMatched.delete(r.id); upsert(r); },
    removed: (id) => remove(id),
    unit: (u) => { state.units.set(u.id, u); renderUnits(); },
    section: (s) => { state.sections.set(s.id, s); renderSections(); },
    alert: (a) => showAlert(a),
    fieldAlert: (a) => fieldAlert(a),
    chat: (m) => chatMessage(m),
    status: (s) => { liveStatus = s; renderStatus(); },
    resync: () => { void loadReports(); void loadUnits(); void loadSections(); void loadField(); },
  });
  schedulePoll();
}

/** Until the websocket answers, keep the picture fresh by asking for what changed. */
function schedulePoll() {
  window.clearTimeout(pollTimer);
  pollTimer = window.setTimeout(async () => {
    if (liveStatus !== "live" && session.token) {
      try {
        const since = state.lastUpdate || new Date(Date.now() - 60_000).toISOString();
        const p = new URLSearchParams({ updated_since: new Date(Date.parse(since) - 2000).toISOString() });
        const items = await allReports(p, 1000, 5000);
        void loadField();
        for (const r of items) { const old = state.reports.get(r.id); if (!old || old.updated_at !== r.updated_at || old.urgent !== r.urgent || old.handler !== r.handler) { if (!old?.urgent && r.urgent && isDutyOfficer() && old) showAlert({ report_id: r.id, by: r.updated_by ?? "", at: r.updated_at, note: r.urgent_note ?? "", report: r }); upsert(r); } }
      } catch { /* next round */ }
    }
    if (session.token) schedulePoll();
  }, liveStatus === "live" ? 15_000 : 2_000);
}

let loadSeq = 0;
async function loadReports() {
  const seq = ++loadSeq;
  setBusy(true);
  try {
    const items = await allReports(serverParams());
    if (seq !== loadSeq) return;
    const keep = new Map<string, Report>();
    for (const r of state.reports.values()) if (r.owner_country === state.me?.country && ["submitted", "returned"].includes(r.state)) keep.set(r.id, r);
    state.reports = keep;
    state.qMatched = new Set(state.filters.q.trim() ? items.map((r) => r.id) : []);
    for (const r of items) { state.reports.set(r.id, r); noteUpdate(r); }
    scheduleRender();
    if (triageOpen()) renderTriage();
  } catch (e) { toast(`${t("error")}: ${(e as Error).message}`, "error"); } finally { if (seq === loadSeq) setBusy(false); }
}
async function loadUnits() { try { const u = await get<{ items: Unit[] }>("/units"); state.units = new Map(u.items.map((x) => [x.id, x])); renderUnits(); } catch { /* optional layer */ } }
async function loadSections() { try { const s = await get<{ items: Section[] }>("/sections"); state.sections = new Map(s.items.map((x) => [x.id, x])); renderSections(); } catch { /* optional layer */ } }

function setBusy(b: boolean) { document.body.classList.toggle("busy", b); }

function buildLayout() {
  layoutBuilt = true;
  const mapEl = h("div", { id: "map", "data-testid": "map", role: "application", "aria-label": "map" });
  const panelEl = h("aside.panel", { id: "panel", hidden: true, "aria-live": "polite" });
  const triageEl = h("div.triage", { id: "triage", hidden: true, "data-testid": "triage" });
  root.replaceChildren(
    h("header.topbar", { id: "topbar" }),
    h("div.field-alerts", { id: "field-alerts", hidden: true, role: "alert", "aria-live": "assertive", "data-testid": "field-alerts" }),
    h("div.main", {}, h("aside.filters", { id: "filters", hidden: true, "data-testid": "filters" }), mapEl, panelEl,
      h("aside.feed", { id: "feed", hidden: true, "data-testid": "feed", "aria-live": "polite" })),
    h("footer.timebar", { id: "timebar" }),
    triageEl,
    h("div.alerts", { id: "alerts", role: "alert", "aria-live": "assertive" }));
  createMap(mapEl, (id) => void openReport(id));
  initPanel(panelEl);
  initTriage(triageEl);
  onRendered(() => renderStatus());
  renderChrome();
  window.setInterval(() => { if (state.playAt === null) scheduleRender(); renderStatus(); }, 30_000);
}

function renderChrome() {
  renderTopbar(); renderFilters(); renderTimebar(); renderStatus();
}

onLanguage(() => {
  if (!layoutBuilt) { showLogin(); return; }
  renderChrome(); renderSections(); renderUnits(); scheduleRender(); refreshOpen(); renderField();
  if (triageOpen()) renderTriage();
  renderPlaces();
});

function renderTopbar() {
  const me = state.me!;
  const search = h("input.search", { type: "search", id: "search", placeholder: t("search"), value: state.filters.q, "aria-label": t("search"), dir: "auto", "data-testid": "search" });
  let deb: number | undefined;
  search.addEventListener("input", () => { window.clearTimeout(deb); deb = window.setTimeout(() => { state.filters.q = search.value; void loadReports(); }, 350); });
  search.addEventListener("keydown", (e) => { if (e.key === "Escape") search.blur(); });
  const digitsSel = lang === "ar" ? h("select", { "aria-label": t("digits"), "data-testid": "digits", onchange: (e: Event) => setDigits((e.target as HTMLSelectElement).value as "latn" | "arab") },
    h("option", { value: "latn", selected: digits === "latn" }, t("digits_latn")), h("option", { value: "arab", selected: digits === "arab" }, t("digits_arab"))) : null;
  $("#topbar").replaceChildren(...[
    h("div.brand", {}, h("b", {}, "Fossatum"), h("span", {}, `${state.node?.name ?? ""}`)),
    search,
    h("button", { onclick: () => toggleFilters(), "aria-keyshortcuts": "f", title: "f" }, t("filters"), activeFilterCount() ? h("span.count", {}, num(activeFilterCount())) : null),
    h("button.ok", { onclick: () => openForm(), "aria-keyshortcuts": "n", title: "n", "data-testid": "new-report" }, "+ ", t("new_report")),
    chatButton(),
    isDutyOfficer() ? h("button", { onclick: () => toggleTriage(), "aria-keyshortcuts": "t", title: "t", "data-testid": "triage-button" }, t("triage")) : null,
    h("span.spacer"),
    h("span.status", { id: "status", "data-testid": "status" }),
    langSwitch(), digitsSel,
    h("span.me", { title: me.roles.map(tx).join(", ") }, `${me.full_name || me.username} · ${me.agency}`),
    h("button.ghost", { onclick: doLogout, "data-testid": "logout" }, t("logout")),
    h("button.ghost", { onclick: () => toast(t("keys_help"), "info", 8000), title: "?" }, "?")].filter((x): x is HTMLElement => !!x));
}

async function doLogout() {
  stopLive(); window.clearTimeout(pollTimer);
  await logout();
  location.reload();
}

function renderStatus() {
  const el = document.getElementById("status");
  if (!el) return;
  const n = Number(mapInstance()?.getContainer().dataset.shown ?? 0);
  const live = state.playAt !== null ? t("playback") : liveStatus === "live" ? t("live") : liveStatus === "offline" ? t("offline") : t("live_off");
  el.replaceChildren(h("span", { class: `dot ${state.playAt !== null ? "play" : liveStatus}` }), `${live} · ${num(n)} ${t("reports")} · ${num(state.units.size)} ${t("units")}`);
  el.dataset.shown = String(n);
}

// ---------- filters
function activeFilterCount() { const f = state.filters; return f.type.length + f.layer.length + f.agency.length + f.country.length + f.state.length + f.grade.length + f.impact.length; }
function toggleFilters(show?: boolean) { const el = $("#filters"); el.hidden = show === undefined ? !el.hidden : !show; if (!el.hidden) el.querySelector<HTMLInputElement>("input")?.focus(); }

function renderFilters() {
  const tax = state.taxonomy!;
  const serverSide: (keyof Filters)[] = ["type", "layer", "agency", "country", "state"];
  const group = (key: keyof Filters, label: string, values: { v: string; label: string }[]) =>
    h("fieldset", { "data-filter": key }, h("legend", {}, label), values.map(({ v, label: l }) => h("label.check", {},
      h("input", { type: "checkbox", value: v, checked: (state.filters[key] as string[]).includes(v), onchange: (e: Event) => {
        const arr = state.filters[key] as string[];
        const on = (e.target as HTMLInputElement).checked;
        const i = arr.indexOf(v);
        if (on && i < 0) arr.push(v); else if (!on && i >= 0) arr.splice(i, 1);
        if (serverSide.includes(key)) void loadReports(); else scheduleRender();
        renderTopbar();
      } }), " ", l)));
  const countries = state.node?.roster ?? [];
  $("#filters").replaceChildren(
    h("header", {}, h("h2", {}, t("filters")), h("button.ghost", { onclick: () => { Object.assign(state.filters, { type: [], layer: [], agency: [], country: [], state: [], grade: [], impact: [] }); renderFilters(); renderTopbar(); void loadReports(); } }, t("clear"))),
    group("layer", t("f_layer"), tax.layers.map((v) => ({ v, label: tx(v) }))),
    group("type", t("f_type"), tax.types.map((x) => ({ v: x.code, label: tx(x.code) }))),
    group("country", t("f_country"), countries.map((v) => ({ v, label: `${v} · ${tx(v)}` }))),
    group("agency", t("f_agency"), state.agencies.map((a) => ({ v: a.code, label: `${a.code}` }))),
    group("state", t("f_state"), tax.states.map((v) => ({ v, label: tx(v) }))),
    group("impact", t("f_impact"), tax.impact_levels.map((v) => ({ v, label: tx(v) }))),
    group("grade", t("f_grade"), [...tax.grade.source, ...tax.grade.info.map(String)].map((v) => ({ v, label: /\d/.test(v) ? num(Number(v)) : v }))));
}

// ---------- time window and playback
let playTimer: number | undefined;
function setPreset(p: Preset) {
  stopPlay(false);
  state.preset = p;
  renderTimebar();
  void loadReports();
}
function startPlay() {
  const now = Date.now();
  state.playAt = now - 24 * HOUR + state.playSpan;
  void loadReports();
  renderTimebar();
  const step = () => {
    if (state.playAt === null) return;
    state.playAt += 10 * 60_000; // ten minutes of the day per tick
    if (state.playAt >= Date.now()) { stopPlay(true); return; }
    syncSlider(); scheduleRender();
    playTimer = window.setTimeout(step, 150);
  };
  playTimer = window.setTimeout(step, 300);
}
function stopPlay(reload: boolean) {
  window.clearTimeout(playTimer);
  if (state.playAt === null) return;
  state.playAt = null;
  renderTimebar();
  if (reload) void loadReports();
}
function syncSlider() {
  const s = document.getElementById("slider") as HTMLInputElement | null;
  const lbl = document.getElementById("slider-label");
  if (!s || state.playAt === null) return;
  s.value = String(Math.round((state.playAt - (Date.now() - 24 * HOUR)) / 60_000));
  if (lbl) lbl.textContent = `${when(new Date(state.playAt - state.playSpan).toISOString())} – ${when(new Date(state.playAt).toISOString())}`;
}

function renderTimebar() {
  const presets = (["6h", "24h", "7d"] as const).map((p, i) => h("button", { class: state.preset === p && state.playAt === null ? "on" : "", onclick: () => setPreset(p), "aria-pressed": String(state.preset === p), title: String(i + 1), "data-preset": p }, t(p === "6h" ? "last6h" : p === "24h" ? "last24h" : "last7d")));
  const toLocal = (ms: number) => new Date(ms - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const from = h("input", { type: "datetime-local", value: toLocal(state.customFrom || Date.now() - 48 * HOUR), "aria-label": t("from") });
  const to = h("input", { type: "datetime-local", value: toLocal(state.customTo || Date.now()), "aria-label": t("to") });
  const custom = h("span.custom", {}, h("button", { class: state.preset === "custom" ? "on" : "", onclick: () => { state.customFrom = Date.parse(from.value); state.customTo = Date.parse(to.value); setPreset("custom"); } }, t("custom")), from, "–", to);
  const slider = h("input", { type: "range", id: "slider", min: 0, max: 24 * 60, step: 10, value: 24 * 60, "aria-label": t("playback"), "data-testid": "slider" });
  slider.addEventListener("input", () => {
    window.clearTimeout(playTimer);
    const wasIdle = state.playAt === null;
    state.playAt = Date.now() - 24 * HOUR + Number(slider.value) * 60_000;
    if (wasIdle) { void loadReports(); renderTimebarPlayButton(); }
    syncSlider(); scheduleRender();
  });
  const play = h("button.play", { id: "play", onclick: () => (state.playAt !== null && playTimer ? stopPlay(true) : startPlay()), "aria-keyshortcuts": "p", title: "p", "data-testid": "play" });
  $("#timebar").replaceChildren(h("div.presets", { role: "group" }, presets), custom, play, slider, h("span", { id: "slider-label" }, state.playAt === null ? t("live") : ""));
  renderTimebarPlayButton();
  syncSlider();
}
function renderTimebarPlayButton() {
  const b = document.getElementById("play");
  if (b) b.textContent = state.playAt !== null ? `⏸ ${t("pause")}` : `▶ ${t("play")}`;
}

// ---------- urgent alerts (duty officers)
function showAlert(a: Alert) {
  if (!isDutyOfficer()) return;
  if (a.report) upsert(a.report);
  const box = $("#alerts");
  const r = a.report ?? state.reports.get(a.report_id);
  const el = h("div.alert", { "data-testid": "alert", "data-id": a.report_id },
    h("b", {}, t("alert_from", { who: a.by })), " ",
    r ? `${tx(r.type)} · ${when(r.observed_at)} · ${r.owner_agency}` : a.report_id.slice(0, 8),
    a.note ? h("span.note", { dir: "auto" }, ` — ${a.note}`) : null,
    h("button", { onclick: () => { void openReport(a.report_id); el.remove(); } }, t("open")),
    h("button.ghost", { onclick: () => el.remove(), "aria-label": t("dismiss") }, "×"));
  box.querySelector(`[data-id="${CSS.escape(a.report_id)}"]`)?.remove();
  box.prepend(el);
}

// ---------- keyboard
document.addEventListener("keydown", (e) => {
  if (!layoutBuilt || e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = (e.target as HTMLElement).tagName;
  const typing = tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  if (e.key === "Escape") { if (typing) (e.target as HTMLElement).blur(); closePanel(); toggleFilters(false); toggleFeed(false); if (triageOpen()) void toggleTriage(false); return; }
  if (typing) return;
  const k = e.key;
  if (k === "/") { e.preventDefault(); document.getElementById("search")?.focus(); }
  else if (k === "n") { e.preventDefault(); openForm(); }
  else if (k === "t" && isDutyOfficer()) void toggleTriage();
  else if (k === "f") toggleFilters();
  else if (k === "c") toggleFeed();
  else if (k === "1") setPreset("6h");
  else if (k === "2") setPreset("24h");
  else if (k === "3") setPreset("7d");
  else if (k === "p") document.getElementById("play")?.click();
  else if (k === "l") setLang(lang === "ar" ? "fr" : lang === "fr" ? "en" : "ar");
  else if (k === "?") toast(t("keys_help"), "info", 8000);
});

// Links: #report/<id> opens a report; #at/<lat>/<lon>/<zoom> centres the map.
function followHash() {
  if (!layoutBuilt) return;
  const r = location.hash.match(/^#report\/([0-9a-fA-F-]{8,64})$/);
  if (r) void openReport(r[1]);
  const a = location.hash.match(/^#at\/(-?[\d.]+)\/(-?[\d.]+)\/(\d+)$/);
  if (a) mapInstance().setView([Number(a[1]), Number(a[2])], Number(a[3]), { animate: false });  // a link jumps
}
window.addEventListener("hashchange", followHash);
void panelReportId;

// ---------- boot
if (session.token) start().catch(() => { session.clear(); showLogin(); }); else showLogin();
