// The map: offline basemap, border sections, reports (grid-clustered), own units, field alerts,
// cursor position. It renders from the store and answers clicks with store actions.
import L from "leaflet";
import { forward as toMgrs } from "mgrs";
import places from "./data/places.json";
import type { Report, Section, Unit } from "./api";
import { ago, alertKind, lang, num, t, tx, when } from "./i18n";
import { batched, h } from "./dom";
import { nodeIcon, popup, tooltip } from "./safe";
import { affiliationOf, reportIcon, unitIcon } from "./symbols";
import { initOpsMap, renderOpsLayers } from "./opsmap";
import { pointPicked, reportSelected, state, subscribe, visibleReports, windowRange } from "./store";

export const IMPACT_COLOUR: Record<string, string> = { low: "#2e9d47", medium: "#e5c61a", high: "#f07c12", critical: "#e0262b" };
const CLUSTER_PX = 56;
const CLUSTER_UNTIL_ZOOM = 12;

let map: L.Map;
let canvas: L.Canvas;
const sectionLayer = L.layerGroup();
const reportLayer = L.layerGroup();
const circleLayer = L.layerGroup();
const unitLayer = L.layerGroup();
const placeLayer = L.layerGroup();
const fieldLayer = L.layerGroup();
let cursorBox: HTMLElement;
let shownCount = 0;
const pick = (e: L.LeafletMouseEvent) => pointPicked({ lat: e.latlng.lat, lon: e.latlng.lng });

export function createMap(el: HTMLElement): L.Map {
  canvas = L.canvas({ padding: 0.3 });
  map = L.map(el, { preferCanvas: true, renderer: canvas, zoomControl: true, minZoom: 4, maxZoom: 16, worldCopyJump: false, attributionControl: true, keyboard: true });
  // The panel and the filters change the map's size: keep Leaflet's idea of it right.
  new ResizeObserver(() => map.invalidateSize({ pan: false })).observe(el);
  map.attributionControl.setPrefix(false).addAttribution("Natural Earth");
  map.setView([34.6, 9.0], 7);
  // The basemap is a chunk of its own: the page is usable while it loads.
  void import("virtual:basemap").then(({ default: countries }) => L.geoJSON(countries, {
    renderer: canvas, interactive: false,
    style: (f) => ({ color: "#8aa0b8", weight: 1.2, fillColor: ["Tunisia", "Algeria", "Libya"].includes(f?.properties?.name) ? "#27323f" : "#1f2732", fillOpacity: 1 }),
  } as L.GeoJSONOptions).addTo(map).bringToBack());
  renderPlaces();
  placeLayer.addTo(map);
  sectionLayer.addTo(map);
  circleLayer.addTo(map);
  unitLayer.addTo(map);
  reportLayer.addTo(map);
  fieldLayer.addTo(map);
  initOpsMap(map);
  L.control.scale({ metric: true, imperial: false, position: "bottomright" }).addTo(map);
  const Cursor = L.Control.extend({
    onAdd() { cursorBox = L.DomUtil.create("div", "cursor-box"); cursorBox.setAttribute("data-testid", "cursor"); return cursorBox; },
  });
  new Cursor({ position: "bottomleft" }).addTo(map);
  map.on("mousemove", (e: L.LeafletMouseEvent) => showCursor(e.latlng));
  map.on("zoomend moveend", () => scheduleRender());
  map.on("zoomend", () => el.classList.toggle("show-places", map.getZoom() >= 7));
  el.classList.toggle("show-places", map.getZoom() >= 7);
  map.on("click", pick);
  subscribe(["reports", "query", "view"], () => scheduleRender());
  subscribe(["units"], () => renderUnits());
  subscribe(["sections"], () => renderSections());
  subscribe(["field"], () => renderFieldAlerts());
  subscribe(["focus"], () => {
    const f = state.focus!;
    if (f.exact) map.setView([f.at.lat, f.at.lon], f.zoom, { animate: false });  // a link jumps
    else map.setView([f.at.lat, f.at.lon], Math.max(map.getZoom(), f.zoom));
  });
  subscribe(["pick"], () => renderPick());
  return map;
}

/** Everything drawn in words: after a change of language. */
export function renderAll() { renderPlaces(); renderSections(); renderUnits(); renderFieldAlerts(); renderOpsLayers(); scheduleRender(); }

/** Towns, labelled in the current language. */
function renderPlaces() {
  placeLayer.clearLayers();
  for (const p of places as { name: string; name_fr: string; name_ar: string; kind: string; lat: number; lon: number }[]) {
    const m = L.circleMarker([p.lat, p.lon], { renderer: canvas, radius: p.kind === "town" ? 3 : 2, color: "#c9d3df", weight: 1, fillColor: "#c9d3df", fillOpacity: 0.9, interactive: false });
    tooltip(m, () => h("span", {}, lang === "ar" ? p.name_ar : lang === "fr" ? p.name_fr : p.name), { permanent: true, direction: "right", className: `place place-${p.kind}`, offset: [4, 0] });
    placeLayer.addLayer(m);
  }
}

function showCursor(ll: L.LatLng) {
  let m = "";
  try { m = toMgrs([ll.lng, ll.lat], 5); } catch { m = "—"; }
  cursorBox.textContent = `${num(ll.lat, 5)}, ${num(ll.lng, 5)}  ·  ${m}`;
}

// While a report is being filed, a click on the map picks its point, marked here.
let pickMarker: L.CircleMarker | null = null;
function renderPick() {
  map.getContainer().classList.toggle("picking", state.picking);
  pickMarker?.remove();
  pickMarker = null;
  const p = state.picked;
  if (p) pickMarker = L.circleMarker([p.lat, p.lon], { radius: 9, color: "#4fc3ff", weight: 3, fillOpacity: 0.1 }).addTo(map);
}

// ---- sections
function renderSections() {
  sectionLayer.clearLayers();
  for (const s of state.sections.values()) {
    if (!s.geometry) continue;
    const colour = IMPACT_COLOUR[s.impact] ?? "#888";
    const layer = L.geoJSON(s.geometry as unknown as GeoJSON.GeoJsonObject, {
      renderer: canvas,
      style: { color: colour, weight: 4, opacity: 0.9, fillColor: colour, fillOpacity: 0.22 },
    } as L.GeoJSONOptions);
    popup(layer, () => sectionPopup(s));
    // sections cover the strip: while picking a point for a report, a click on one picks it
    layer.on("click", (e: L.LeafletMouseEvent) => { if (state.picking) { layer.closePopup(); pick(e); } else if (state.drawing) layer.closePopup(); });
    tooltip(layer, () => h("span", { dir: "auto" }, `${s.name} — ${tx(s.impact)}`), { sticky: true });
    sectionLayer.addLayer(layer);
  }
}
function sectionPopup(s: Section): HTMLElement {
  const partner = s.owner_country !== state.me?.country;
  return h("div.popup", { dir: lang === "ar" ? "rtl" : "ltr", "data-testid": "section-popup" },
    h("b", { dir: "auto" }, s.name), partner ? [" ", h("span.badge.partner", {}, s.owner_country)] : null, h("br"),
    h("span", { class: `impact impact-${s.impact}` }, tx(s.impact)), " ",
    t("impact_set_by", { who: s.impact_set_by, when: when(s.impact_set_at) }),
    s.impact_reason ? [h("br"), `${t("reason")}: `, h("span", { dir: "auto" }, s.impact_reason)] : null);
}

// ---- units (blue force)
function renderUnits() {
  unitLayer.clearLayers();
  for (const u of state.units.values()) {
    if (!u.position) continue;
    const partner = u.owner_country !== state.me?.country ? u.owner_country : null;
    const m = L.marker([u.position.lat, u.position.lon], { icon: unitIcon(u.kind, u.callsign, partner), keyboard: false, zIndexOffset: -100 });
    tooltip(m, () => unitTip(u), { direction: "top" });
    const age = u.position_at ? (Date.now() - Date.parse(u.position_at)) / 3600_000 : 99;
    m.setOpacity(age < 1 ? 1 : age < 6 ? 0.85 : 0.6);
    unitLayer.addLayer(m);
  }
}
function unitTip(u: Unit): HTMLElement {
  const partner = u.owner_country !== state.me?.country ? ` [${u.owner_country}]` : "";
  return h("div", { "data-testid": "unit-tip" }, h("b", { dir: "auto" }, u.callsign), " ", h("span", { dir: "auto" }, u.name), partner, h("br"),
    `${tx(u.kind)} · ${u.owner_agency}`, h("br"), `${t("last_position")}: ${ago(u.position_at)}`);
}

// ---- field alerts (TAK 911, troops in contact): red markers above everything
// Markers by alert uid, kept while the alert and the language stay the same: a marker re-created
// under the pointer would open a second tooltip beside the one still fading out, and flicker.
const alertMarkers = new Map<string, { key: string; marker: L.Marker }>();

function renderFieldAlerts() {
  const shown = new Set<string>();
  for (const a of state.fieldAlerts.values()) {
    shown.add(a.uid);
    const key = `${lang}|${JSON.stringify(a)}`;
    const held = alertMarkers.get(a.uid);
    if (held?.key === key) continue;
    if (held) fieldLayer.removeLayer(held.marker);
    const icon = nodeIcon({ className: "field-alert-marker", html: h("span", { "data-uid": a.uid }, "!"), iconSize: [26, 26] });
    const m = L.marker([a.position.lat, a.position.lon], { icon, zIndexOffset: 2000, keyboard: false, title: `${alertKind(a.kind)} · ${a.callsign}` });
    tooltip(m, () => h("div", { "data-testid": "alert-tip" }, h("b", {}, alertKind(a.kind)), h("br"), a.callsign || a.raised_by, " · ", when(a.at), a.text ? h("div", { dir: "auto" }, a.text) : null));
    fieldLayer.addLayer(m);
    alertMarkers.set(a.uid, { key, marker: m });
  }
  for (const [uid, held] of alertMarkers) {
    if (!shown.has(uid)) { fieldLayer.removeLayer(held.marker); alertMarkers.delete(uid); }
  }
}

// ---- reports
const scheduleRender = batched(() => renderReports());

function opacityFor(r: Report, range: [number, number]): number {
  const span = Math.max(range[1] - range[0], 1);
  const age = (range[1] - Date.parse(r.observed_at)) / span;
  return Math.max(0.35, 1 - 0.65 * Math.min(Math.max(age, 0), 1));
}

const SEVERITY: Record<string, number> = { hostile: 3, suspect: 2, unknown: 1, friend: 0 };

function renderReports() {
  reportLayer.clearLayers();
  circleLayer.clearLayers();
  const list = visibleReports();
  shownCount = list.length;
  const range = windowRange();
  const bounds = map.getBounds().pad(0.2);
  const zoom = map.getZoom();
  const cluster = zoom < CLUSTER_UNTIL_ZOOM;
  const cells = new Map<string, Report[]>();
  const origin = map.getPixelOrigin();
  for (const r of list) {
    const ll = L.latLng(r.location.lat, r.location.lon);
    if (!bounds.contains(ll)) continue;
    let key = r.id;
    if (cluster) {
      const p = map.project(ll, zoom).subtract(origin);
      key = `${Math.floor(p.x / CLUSTER_PX)}:${Math.floor(p.y / CLUSTER_PX)}`;
    }
    const cell = cells.get(key);
    if (cell) cell.push(r); else cells.set(key, [r]);
  }
  let rendered = 0;
  for (const group of cells.values()) {
    if (group.length === 1) { addSymbol(group[0], range, zoom); rendered++; continue; }
    let lat = 0, lon = 0, worst = "friend", urgent = false;
    for (const r of group) {
      lat += r.location.lat; lon += r.location.lon;
      const a = affiliationOf(r.type);
      if (SEVERITY[a] > SEVERITY[worst]) worst = a;
      if (r.urgent) urgent = true;
    }
    const n = group.length;
    const size = n < 10 ? 30 : n < 100 ? 36 : 44;
    const icon = nodeIcon({ className: `rep-cluster aff-${worst}${urgent ? " urgent" : ""}`, html: h("span", {}, num(n)), iconSize: [size, size] });
    const m = L.marker([lat / n, lon / n], { icon, title: `${n} ${t("reports")}`, keyboard: false });
    m.on("add", () => m.getElement()?.setAttribute("data-count", String(n)));
    m.on("click", () => {
      const b = L.latLngBounds(group.map((r) => [r.location.lat, r.location.lon] as [number, number]));
      if (map.getZoom() >= CLUSTER_UNTIL_ZOOM - 1 || b.getNorthEast().equals(b.getSouthWest())) map.setView(b.getCenter(), CLUSTER_UNTIL_ZOOM);
      else map.fitBounds(b.pad(0.3), { maxZoom: CLUSTER_UNTIL_ZOOM });
    });
    reportLayer.addLayer(m);
    rendered++;
  }
  const c = map.getContainer();
  c.dataset.shown = String(shownCount);
  c.dataset.rendered = String(rendered);
}

function addSymbol(r: Report, range: [number, number], zoom: number) {
  const partner = r.owner_country !== state.me?.country ? r.owner_country : null;
  const m = L.marker([r.location.lat, r.location.lon], {
    icon: reportIcon(r.type, partner, !!r.urgent), opacity: opacityFor(r, range), keyboard: false,
    title: `${tx(r.type)} · ${when(r.observed_at)}${partner ? ` · ${partner}` : ""}`,
    riseOnHover: true,
  });
  m.on("add", () => { const e = m.getElement(); if (e) { e.dataset.id = r.id; e.dataset.type = r.type; } });
  m.on("click", () => reportSelected(r.id));
  reportLayer.addLayer(m);
  if (r.uncertainty_m > 0 && zoom >= 9) {
    circleLayer.addLayer(L.circle([r.location.lat, r.location.lon], {
      renderer: canvas, radius: r.uncertainty_m, interactive: false,
      color: affiliationOf(r.type) === "hostile" ? "#ff6b6b" : "#f5d76e", weight: 1, opacity: 0.7, fillOpacity: 0.06,
    }));
  }
}

/** The zoom at which a report is a symbol of its own. */
export const SINGLE_ZOOM = CLUSTER_UNTIL_ZOOM;

/** Frame the border sections (the strip the centre watches), at once.
 *  Not animated: Leaflet starts a zoom animation on the next animation frame and then moves to
 *  its target, so a jump made before that frame (a #at/… link, followed right after this) was
 *  undone; a page that has not painted yet can wait long for that frame. */
export function fitBorder() {
  const b = L.latLngBounds([]);
  sectionLayer.eachLayer((l) => { const g = l as L.GeoJSON; if (g.getBounds) b.extend(g.getBounds()); });
  if (b.isValid()) map.fitBounds(b.pad(0.05), { animate: false });
}
