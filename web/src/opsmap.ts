// The operations layers of the map (issue 12): each operation's area and its sectors coloured by
// country (palette.ts), patrol routes with their waypoints, border rendezvous and checkpoints,
// checkpoints by status, the coverage gaps of the border sections, and the shape being drawn.
//
// These layers are SVG, not the canvas the reports use: there are few of them, and each path is
// then an element that carries its country and its object (class, data-*), for the tests and for
// assistive technology. Drawing is a small click-to-add-corner tool written here rather than a
// plugin (leaflet-geoman, leaflet-draw): the backend checks a sector inside its area exactly
// (domain/polygon.py, no tolerance), so the tool must put a corner on the *same* numbers as a
// corner already drawn (`snap`), its state must live in the store like everything else the page
// knows, and it needs Arabic, French and English hints — a plugin would bring its own state and
// strings, and weigh more than the whole tool.
import L from "leaflet";
import type { Checkpoint, Operation, Patrol, Waypoint } from "./api";
import { h } from "./dom";
import { lang, num, t, tx, when } from "./i18n";
import { GAP_COLOUR, ROUTE_COLOUR, countryClass, countryColour } from "./palette";
import { nodeIcon, popup, tooltip } from "./safe";
import {
  drawFinished, opsViewed, state, subscribe, vertexAdded, type LatLon,
} from "./store";

let map: L.Map;
let svg: L.Renderer;
const areaLayer = L.layerGroup();
const routeLayer = L.layerGroup();
const checkpointLayer = L.layerGroup();
const gapLayer = L.layerGroup();
const draftLayer = L.layerGroup();
const progressLayer = L.layerGroup();
/** How near (screen pixels) a click must be to a corner to take it exactly. */
const SNAP_PX = 12;

const ll = (p: LatLon): L.LatLngTuple => [p.lat, p.lon];
const ring = (coords: number[][]): L.LatLngTuple[] => coords.slice(0, -1).map(([lon, lat]) => [lat, lon]);
const rtl = () => (lang === "ar" ? "rtl" : "ltr");

export function initOpsMap(m: L.Map) {
  map = m;
  svg = L.svg({ padding: 0.3 });
  for (const l of [areaLayer, gapLayer, routeLayer, progressLayer, checkpointLayer, draftLayer]) l.addTo(map);
  map.on("click", drawClick);
  // Sector names only where they can be read (below that they hide the border strip).
  const labels = () => map.getContainer().classList.toggle("hide-sector-labels", map.getZoom() < 9);
  map.on("zoomend", labels);
  labels();
  subscribe(["ops", "session"], () => renderOps());
  subscribe(["coverage", "sections"], () => renderGaps());
  subscribe(["draw"], () => { renderDraft(); renderOps(); });
  subscribe(["preview"], () => renderDraft());
  subscribe(["progress"], () => renderProgress());
  subscribe(["opsview"], () => {
    const v = state.opsView;
    if (v.kind === "operation") { const o = state.operations.get(v.id); if (o) fit(ring(o.area.coordinates[0])); }
    else if (v.kind === "patrol") { const p = state.patrols.get(v.id); if (p) fit(p.route.map((w) => [w.lat, w.lon])); }
    else if (v.kind === "checkpoint") { const c = state.checkpoints.get(v.id); if (c) map.setView([c.point.coordinates[1], c.point.coordinates[0]], Math.max(map.getZoom(), 12)); }
  });
}

/** data-* on a path's SVG element once it is on the map: what it shows, for tests and tools. */
function tag(layer: L.Path, data: Record<string, string>) {
  layer.on("add", () => { const e = layer.getElement(); if (e) for (const [k, v] of Object.entries(data)) e.setAttribute(`data-${k}`, v); });
}

function fit(points: L.LatLngTuple[]) {
  const b = L.latLngBounds(points);
  if (b.isValid()) map.fitBounds(b.pad(0.25), { maxZoom: 13 });
}

/** After a change of language. */
export function renderOpsLayers() { renderOps(); renderGaps(); renderDraft(); renderProgress(); }

// ---- the open patrol as it runs: its units' actual tracks (in their country's colour) and
// each rendezvous met (✓), missed (✕) or pending (…)
const RV_GLYPH: Record<string, string> = { met: "✓", missed: "✕", pending: "…" };
function renderProgress() {
  progressLayer.clearLayers();
  const pr = state.progress;
  if (!pr) return;
  for (const tr of pr.tracks) {
    if (tr.geometry?.type !== "LineString") continue;
    const line = L.polyline(tr.geometry.coordinates.map(([lon, lat]) => [lat, lon] as L.LatLngTuple), {
      renderer: svg, interactive: true, className: `patrol-track ${countryClass(tr.country)}`, color: countryColour(tr.country), weight: 3, opacity: 0.9,
    });
    tag(line, { patrol: pr.patrol, unit: tr.unit });
    tooltip(line, () => h("span", { dir: "auto" }, `${tr.unit} · ${when(tr.first)} – ${when(tr.last)}`), { sticky: true });
    progressLayer.addLayer(line);
  }
  for (const r of pr.rendezvous) {
    const m = L.marker([r.lat, r.lon], {
      icon: nodeIcon({ className: `rv-mark rv-${r.status}`, html: h("span", { "data-rendezvous": r.name, "data-state": r.status }, RV_GLYPH[r.status] ?? "?"), iconSize: [16, 16], iconAnchor: [-6, 22] }),
      interactive: false, keyboard: false, zIndexOffset: 900,
    });
    progressLayer.addLayer(m);
  }
}

// ---- operations, patrols, checkpoints
function renderOps() {
  areaLayer.clearLayers(); routeLayer.clearLayers(); checkpointLayer.clearLayers();
  const interactive = !state.drawing;  // while drawing, a click is a corner, never a popup
  for (const o of state.operations.values()) {
    if (o.status === "CANCLD") continue;
    const done = o.status === "COM";
    const area = L.polygon(ring(o.area.coordinates[0]), {
      renderer: svg, interactive, className: `op-area${done ? " done" : ""}`,
      color: "#ffffff", weight: 2, dashArray: "8 6", fill: false,
    });
    tag(area, { op: o.id });
    tooltip(area, () => h("span", { dir: "auto" }, `${o.code} · ${o.name}`), { sticky: true });
    area.on("click", () => opsViewed({ kind: "operation", id: o.id }));
    areaLayer.addLayer(area);
    for (const s of o.sectors) {
      const colour = countryColour(s.country);
      const sector = L.polygon(ring(s.polygon.coordinates[0]), {
        renderer: svg, interactive, className: `op-sector ${countryClass(s.country)}`,
        color: colour, weight: 2, opacity: done ? 0.5 : 0.95, fillColor: colour, fillOpacity: done ? 0.1 : 0.28,
      });
      tag(sector, { op: o.id, sector: s.id, country: s.country });
      // The label carries the country as text: colour is never the only carrier.
      tooltip(sector, () => h("span.sector-label-text", { dir: "auto", "data-sector": s.id }, s.name, " · ", h("b", {}, s.country)),
        { permanent: true, direction: "center", className: `sector-label ${countryClass(s.country)}` });
      popup(sector, () => sectorPopup(o, s.id));
      areaLayer.addLayer(sector);
    }
  }
  for (const p of state.patrols.values()) if (p.status !== "CANCLD") renderRoute(p, interactive);
  for (const c of state.checkpoints.values()) renderCheckpoint(c, interactive);
}

function sectorPopup(o: Operation, sectorId: string): HTMLElement {
  const s = o.sectors.find((x) => x.id === sectorId)!;
  return h("div.popup", { dir: rtl(), "data-testid": "sector-popup" },
    h("b", { dir: "auto" }, `${o.code} — ${s.name}`), h("br"),
    h("span", { class: `chip ${countryClass(s.country)}` }, s.country), " ", tx(s.country), h("br"),
    `${t("op_units")}: `, s.units.length ? s.units.join(", ") : t("none"), h("br"),
    h("button.ghost", { "data-testid": "sector-open-op", onclick: () => { map.closePopup(); opsViewed({ kind: "operation", id: o.id }); } }, `${t("operation")} ${o.code}`));
}

function renderRoute(p: Patrol, interactive: boolean) {
  const line = L.polyline(p.route.map((w) => [w.lat, w.lon] as L.LatLngTuple), {
    renderer: svg, interactive, className: "patrol-route", color: ROUTE_COLOUR, weight: 3, opacity: 0.9, dashArray: p.status === "NST" ? "10 6" : undefined,
  });
  tag(line, { patrol: p.id });
  tooltip(line, () => h("span", { dir: "auto" }, `${p.code} · ${p.name} · ${t(`ms_${p.status}`)}`), { sticky: true });
  line.on("click", () => opsViewed({ kind: "patrol", id: p.id }));
  routeLayer.addLayer(line);
  p.route.forEach((w, i) => routeLayer.addLayer(waypointMarker(p, w, i, interactive)));
}

function waypointMarker(p: Patrol, w: Waypoint, i: number, interactive: boolean): L.Layer {
  const kind = w.kind;
  // A rendezvous is a diamond split in the two countries' colours; a waypoint a small dot; a
  // checkpoint on the route a small square (the checkpoint's own symbol is drawn with its status).
  const html = kind === "rendezvous"
    ? h("span", { "data-patrol": p.id, "data-kind": kind }, ...(w.countries ?? []).map((c) => h("i", { class: countryClass(c) })))
    : h("span", { "data-patrol": p.id, "data-kind": kind }, kind === "waypoint" ? num(i + 1) : "");
  const size: L.PointTuple = kind === "rendezvous" ? [22, 22] : kind === "checkpoint" ? [12, 12] : [16, 16];
  const m = L.marker([w.lat, w.lon], { icon: nodeIcon({ className: `wp wp-${kind}`, html, iconSize: size }), interactive, keyboard: false, zIndexOffset: 500 });
  tooltip(m, () => h("div", { dir: rtl(), "data-testid": "waypoint-tip" },
    h("b", { dir: "auto" }, w.name), ` · ${t(`wp_${kind}`)}`,
    kind === "rendezvous" ? [h("br"), (w.countries ?? []).join(" ⇄ "), w.at ? ` · ${when(w.at)}` : ""] : null,
    h("br"), h("span", { dir: "auto" }, `${p.code} · ${p.name}`)), { direction: "top" });
  m.on("click", () => opsViewed({ kind: "patrol", id: p.id }));
  return m;
}

const CP_GLYPH: Record<string, string> = { open: "○", closed: "✕", reinforced: "▲" };
function renderCheckpoint(c: Checkpoint, interactive: boolean) {
  const [lon, lat] = c.point.coordinates;
  const html = h("span", { "data-checkpoint": c.id, "data-status": c.status }, CP_GLYPH[c.status] ?? "?");
  const m = L.marker([lat, lon], {
    icon: nodeIcon({ className: `cp cp-${c.status}`, html, iconSize: [22, 22] }), interactive, keyboard: false, zIndexOffset: 800,
    title: `${c.name} · ${t(`cp_${c.status}`)}`,
  });
  tooltip(m, () => h("div", { dir: rtl(), "data-testid": "checkpoint-tip" },
    h("b", { dir: "auto" }, c.name), " · ", h("span", { class: `cp-state cp-state-${c.status}` }, t(`cp_${c.status}`)),
    c.reason ? [h("br"), `${t("reason")}: `, h("span", { dir: "auto" }, c.reason)] : null,
    h("br"), `${t("cp_operator")}: ${c.operator === "joint" ? t("cp_joint") : c.operator} · ${when(c.updated_at)}`), { direction: "top" });
  m.on("click", () => opsViewed({ kind: "checkpoint", id: c.id }));
  checkpointLayer.addLayer(m);
}

// ---- coverage gaps: the stretches of a border section no track came near in the window
function renderGaps() {
  gapLayer.clearLayers();
  if (!state.coverageOn) return;
  for (const cov of state.coverage.values()) {
    const section = state.sections.get(cov.section);
    for (const g of cov.gaps) {
      const line = L.polyline(g.geometry.coordinates.map(([lon, lat]) => [lat, lon] as L.LatLngTuple), {
        renderer: svg, className: "coverage-gap", color: GAP_COLOUR, weight: 7, opacity: 0.9, dashArray: "12 8",
      });
      tag(line, { section: cov.section });
      tooltip(line, () => h("div", { dir: rtl(), "data-testid": "gap-tip" },
        h("b", {}, t("cov_gap")), " · ", h("span", { dir: "auto" }, section?.name ?? cov.section), h("br"),
        t("cov_since", { when: when(g.since ?? cov.since_searched_from) }),
        g.length_m ? ` · ${num(Math.round(g.length_m / 100) / 10)} km` : ""), { sticky: true });
      gapLayer.addLayer(line);
    }
  }
}

// ---- drawing: a click adds a corner (taking a nearby existing corner exactly); a click on the
// first corner closes a polygon, a second click on the last corner ends a line.
function drawClick(e: L.LeafletMouseEvent) {
  const d = state.drawing;
  if (!d) return;
  const at = map.latLngToContainerPoint(e.latlng);
  const near = (p: LatLon) => map.latLngToContainerPoint(ll(p)).distanceTo(at) <= SNAP_PX;
  const pts = d.points;
  if (d.mode === "polygon" && pts.length >= 3 && near(pts[0])) { drawFinished(); return; }
  if (d.mode === "line" && pts.length >= 2 && near(pts[pts.length - 1])) { drawFinished(); return; }
  const snapped = d.snap.find(near);
  vertexAdded(snapped ?? { lat: round(e.latlng.lat), lon: round(e.latlng.lng) });
  if (d.mode === "point") drawFinished();  // one click is the point
}
/** Six decimals: ~0.1 m, as precise as a click can mean. */
const round = (v: number) => Math.round(v * 1e6) / 1e6;

function renderDraft() {
  draftLayer.clearLayers();
  map.getContainer().classList.toggle("drawing", !!state.drawing);
  if (state.drawing) map.doubleClickZoom.disable(); else map.doubleClickZoom.enable();
  const pv = state.preview;
  if (pv) {
    for (const poly of pv.polygons) {
      const colour = poly.country ? countryColour(poly.country) : "#ffffff";
      const shape = L.polygon(poly.points.map(ll), {
        renderer: svg, interactive: false, className: `draft-shape ${poly.country ? countryClass(poly.country) : "draft-area"}`,
        color: colour, weight: 2, dashArray: poly.country ? undefined : "4 4", fillColor: colour, fillOpacity: poly.country ? 0.25 : 0.05,
      });
      if (poly.label) tooltip(shape, () => h("span", { dir: "auto" }, poly.label), { permanent: true, direction: "center", className: "sector-label" });
      draftLayer.addLayer(shape);
    }
    if (pv.line) draftLayer.addLayer(L.polyline(pv.line.map(ll), { renderer: svg, interactive: false, className: "draft-shape draft-route", color: ROUTE_COLOUR, weight: 3, dashArray: "4 4" }));
    for (const m of pv.marks) {
      draftLayer.addLayer(L.marker(ll(m.at), {
        icon: nodeIcon({ className: `wp wp-${m.kind}`, html: h("span", {}, m.label), iconSize: m.kind === "rendezvous" ? [22, 22] : [16, 16] }),
        interactive: false, keyboard: false,
      }));
    }
  }
  const d = state.drawing;
  if (!d) return;
  const pts = d.points.map(ll);
  if (pts.length >= 2) {
    draftLayer.addLayer(d.mode === "polygon" && pts.length >= 3
      ? L.polygon(pts, { renderer: svg, interactive: false, className: "draft-drawing", color: "#4fc3ff", weight: 2, fillOpacity: 0.1 })
      : L.polyline(pts, { renderer: svg, interactive: false, className: "draft-drawing", color: "#4fc3ff", weight: 3 }));
  }
  d.points.forEach((p, i) => draftLayer.addLayer(L.circleMarker(ll(p), {
    renderer: svg, interactive: false, radius: i === 0 ? 7 : 5, className: `draft-vertex${i === 0 ? " first" : ""}`,
    color: "#4fc3ff", weight: 2, fillColor: i === 0 ? "#4fc3ff" : "#0f1419", fillOpacity: 1,
  })));
  for (const p of d.snap) draftLayer.addLayer(L.circleMarker(ll(p), { renderer: svg, interactive: false, radius: 3, className: "snap-point", color: "#ffffff", weight: 1, fillOpacity: 0 }));
}
