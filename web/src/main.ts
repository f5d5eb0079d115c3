// Fossatum COP page: the wiring. State lives in store.ts and changes only through its actions;
// the node's data comes in through sync.ts (catch-up) and live.ts (the live feed); each view
// renders from the store and subscribes to what it shows.
import "leaflet/dist/leaflet.css";
import "./style.css";
import { get, logout, session, whenUnauthorized } from "./api";
import { initBanners } from "./banners";
import { h, toast } from "./dom";
import { initField, renderField } from "./field";
import { initFilters } from "./filters";
import { applyDocument, lang, onLanguage, setLang, t } from "./i18n";
import { startLive, stopLive } from "./live";
import { showLogin } from "./login";
import { createMap, fitBorder, renderAll } from "./mapview";
import { initPanel, refreshOpen } from "./panel";
import {
  clockTicked, drawCancelled, drawFinished, feedToggled, filtersToggled, focusRequested, formOpened, isDutyOfficer, opsToggled, opsViewed,
  panelClosed, reportSelected, signedIn, signedOut, state, subscribe, triageToggled, vertexUndone,
} from "./store";
import { catchUp, coverageMoved } from "./sync";
import { choosePreset, initTimebar, togglePlay } from "./timebar";
import { initTopbar } from "./topbar";
import { initTriage } from "./triage";
import { initOps } from "./ops";

const root = document.getElementById("app")!;
let layout: HTMLElement[] | null = null;
let pollTimer: number | undefined;
applyDocument();
whenUnauthorized(() => { stopLive(); window.clearTimeout(pollTimer); session.clear(); signedOut(); login(t("login_failed")); });
const login = (message = "") => showLogin(root, message, start);

async function start() {
  const [me, node, taxonomy, agencies] = await Promise.all([
    get("/me"), get("/node"), get("/taxonomy"), get("/agencies"),
  ]);
  root.replaceChildren(...(layout ?? buildLayout()));
  signedIn(me, node, taxonomy, agencies.items);
  await catchUp("all");
  fitBorder();
  followHash();
  startLive();
  schedulePoll();
}

/** Until the live feed answers, keep the picture fresh by asking for what changed. */
function schedulePoll() {
  window.clearTimeout(pollTimer);
  pollTimer = window.setTimeout(async () => {
    if (state.live !== "live" && session.token) await catchUp("changes");
    if (session.token) schedulePoll();
  }, state.live === "live" ? 15_000 : 2_000);
}

/** The page's frame and its views, made once (a new login after a session ended reuses them). */
function buildLayout(): HTMLElement[] {
  const mapEl = h("div", { id: "map", "data-testid": "map", role: "application", "aria-label": "map" });
  const panelEl = h("aside.panel", { id: "panel", hidden: true, "aria-live": "polite" });
  const triageEl = h("div.triage", { id: "triage", hidden: true, "data-testid": "triage" });
  const opsEl = h("aside.ops", { id: "ops", hidden: true, "data-testid": "ops" });
  layout = [
    h("header.topbar", { id: "topbar" }),
    h("div.field-alerts", { id: "field-alerts", hidden: true, role: "alert", "aria-live": "assertive", "data-testid": "field-alerts" }),
    h("div.main", {}, h("aside.filters", { id: "filters", hidden: true, "data-testid": "filters" }), mapEl, panelEl,
      h("aside.feed", { id: "feed", hidden: true, "data-testid": "feed", "aria-live": "polite" }), opsEl),
    h("footer.timebar", { id: "timebar" }),
    triageEl,
    h("div.alerts", { id: "alerts", role: "alert", "aria-live": "assertive" })];
  root.replaceChildren(...layout);
  createMap(mapEl);
  initPanel(panelEl);
  initTriage(triageEl);
  initOps(opsEl);
  initField();
  initFilters();
  initTimebar();
  initBanners();
  initTopbar({ logout: doLogout });
  onLanguage(() => { renderAll(); refreshOpen(); renderField(); });
  subscribe(["query"], () => void catchUp("window"));
  subscribe(["units"], coverageMoved);
  subscribe(["busy"], () => document.body.classList.toggle("busy", state.busy));
  window.setInterval(clockTicked, 30_000);
  return layout;
}

onLanguage(() => { if (!state.me) login(); });

async function doLogout() {
  stopLive(); window.clearTimeout(pollTimer);
  await logout();
  location.reload();
}

// ---------- keyboard
document.addEventListener("keydown", (e) => {
  if (!state.me || e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = (e.target as HTMLElement).tagName;
  const typing = tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  // While a shape is drawn on the map: Enter ends it, Backspace takes back a corner, Escape stops.
  if (state.drawing && !typing) {
    if (e.key === "Escape") { e.preventDefault(); drawCancelled(); return; }
    if (e.key === "Enter") { e.preventDefault(); drawFinished(); return; }
    if (e.key === "Backspace") { e.preventDefault(); vertexUndone(); return; }
  }
  if (e.key === "Escape") {
    if (typing) (e.target as HTMLElement).blur();
    panelClosed(); filtersToggled(false); feedToggled(false); triageToggled(false); opsToggled(false);
    return;
  }
  if (typing) return;
  const k = e.key;
  if (k === "/") { e.preventDefault(); document.getElementById("search")?.focus(); }
  else if (k === "n") { e.preventDefault(); formOpened(); }
  else if (k === "t" && isDutyOfficer()) triageToggled();
  else if (k === "f") filtersToggled();
  else if (k === "c") feedToggled();
  else if (k === "o") opsToggled();
  else if (k === "1") choosePreset("6h");
  else if (k === "2") choosePreset("24h");
  else if (k === "3") choosePreset("7d");
  else if (k === "p") togglePlay();
  else if (k === "l") setLang(lang === "ar" ? "fr" : lang === "fr" ? "en" : "ar");
  else if (k === "?") toast(t("keys_help"), "info", 8000);
});

// Links: #report/<id> opens a report; #at/<lat>/<lon>/<zoom> centres the map; #operation/<id> opens one.
function followHash() {
  if (!state.me) return;
  const o = location.hash.match(/^#(operation|patrol|checkpoint)\/([\w.-]{1,64})$/);
  if (o) opsViewed({ kind: o[1] as "operation" | "patrol" | "checkpoint", id: o[2] });
  const r = location.hash.match(/^#report\/([0-9a-fA-F-]{8,64})$/);
  if (r) reportSelected(r[1]);
  const a = location.hash.match(/^#at\/(-?[\d.]+)\/(-?[\d.]+)\/(\d+)$/);
  if (a) focusRequested({ lat: Number(a[1]), lon: Number(a[2]) }, Number(a[3]), true);
}
window.addEventListener("hashchange", followHash);

// ---------- boot
if (session.token) start().catch(() => { session.clear(); login(); }); else login();
