// What the page knows, and the only place it changes. Views read `state` (typed read-only), call
// the named actions below, and subscribe to the topics an action announces; none of them changes
// shared state or another view directly. The node's data enters through sync.ts and live.ts only.
import type { Agency, ChatMessage, FieldAlert, Me, NodeInfo, Report, Section, Taxonomy, Unit } from "./api";

export interface Filters {
  type: string[]; layer: string[]; agency: string[]; country: string[]; state: string[];
  grade: string[]; impact: string[]; q: string;
}
export type FilterKey = Exclude<keyof Filters, "q">;
export type Preset = "6h" | "24h" | "7d" | "custom";
export type LiveStatus = "live" | "offline" | "unavailable";
/** An urgent flag raised by a duty officer, shown to the other duty officers as a banner. */
export interface Alert { report_id: string; by: string; at: string; note: string; report?: Report }
export interface LatLon { lat: number; lon: number }

export const HOUR = 3600_000;
export const PRESETS: Record<Exclude<Preset, "custom">, number> = { "6h": 6 * HOUR, "24h": 24 * HOUR, "7d": 7 * 24 * HOUR };
const CHAT_KEEP = 200;
const NO_FILTERS = (): Filters => ({ type: [], layer: [], agency: [], country: [], state: [], grade: [], impact: [], q: "" });

interface State {
  me: Me | null; node: NodeInfo | null; taxonomy: Taxonomy | null; agencies: Agency[];
  reports: Map<string, Report>;
  units: Map<string, Unit>;
  sections: Map<string, Section>;
  fieldAlerts: Map<string, FieldAlert>;
  /** The field chat, newest first. */
  chat: ChatMessage[];
  unread: number;
  /** Which of the panels beside the map are open. */
  feedOpen: boolean; filtersOpen: boolean; triageOpen: boolean;
  /** Urgent-flag banners, newest first. */
  alerts: Alert[];
  filters: Filters;
  preset: Preset; customFrom: number; customTo: number;
  /** During playback: the moving end of a 2-hour window over the last 24 h. */
  playAt: number | null; playSpan: number;
  /** The newest updated_at seen: where a catch-up starts from. */
  lastUpdate: string;
  /** Ids the server matched for the current text search (its matching is the reference). */
  qMatched: Set<string>;
  live: LiveStatus;
  busy: boolean;
  /** What the side panel shows: a report (`fly`: the map goes to it) or the form to file one. */
  panel: { kind: "report"; id: string; fly: boolean } | { kind: "form" } | null;
  /** Where the map was last asked to go: at least to `zoom`, or exactly there. */
  focus: { at: LatLon; zoom: number; exact: boolean } | null;
  /** While a report is being filed: whether a map click picks its point, and the point. */
  picking: boolean; picked: LatLon | null;
}

type ReadonlyState = { readonly [K in keyof State]: State[K] extends Map<infer A, infer B> ? ReadonlyMap<A, B>
  : State[K] extends Set<infer A> ? ReadonlySet<A> : State[K] extends (infer A)[] ? readonly A[] : Readonly<State[K]> };

const s: State = {
  me: null, node: null, taxonomy: null, agencies: [],
  reports: new Map(), units: new Map(), sections: new Map(), fieldAlerts: new Map(), chat: [], unread: 0, feedOpen: false, filtersOpen: false, triageOpen: false,
  alerts: [], filters: NO_FILTERS(), preset: "24h", customFrom: 0, customTo: 0, playAt: null, playSpan: 2 * HOUR,
  lastUpdate: "", qMatched: new Set(), live: "unavailable", busy: false, panel: null, focus: null, picking: false, picked: null,
};
/** Read-only to everyone but this module. */
export const state: ReadonlyState = s;

// ---- subscriptions
/** What an action announces. `query`: what the node must be asked for changed (server-side filters,
 *  time window, playback start/stop); `view`: what is shown of it changed (client-side filters,
 *  the playback position, the clock). */
export type Topic = "session" | "reports" | "units" | "sections" | "field" | "chat" | "alerts" | "query" | "view"
  | "live" | "busy" | "panel" | "focus" | "pick" | "ui";
/** For `reports`: which ids changed or went (`replaced` when the whole set was reloaded). */
export interface ReportsChange { upserted: string[]; removed: string[]; replaced: boolean }
type Listener = (change?: ReportsChange) => void;
const listeners = new Map<Topic, Listener[]>();

export function subscribe(topics: Topic[], f: Listener): void {
  for (const t of topics) listeners.set(t, [...(listeners.get(t) ?? []), f]);
}
function emit(topic: Topic, change?: ReportsChange) {
  for (const f of listeners.get(topic) ?? []) f(change);
}

// ---- selectors
export const isDutyOfficer = () => !!s.me?.roles.includes("duty_officer");

/** The time window shown, as [from, to] in ms. */
export function windowRange(now = Date.now()): [number, number] {
  if (s.playAt !== null) return [s.playAt - s.playSpan, s.playAt];
  if (s.preset === "custom") return [s.customFrom, s.customTo || now];
  return [now - PRESETS[s.preset], now + 5 * 60_000];
}
/** The window the server is asked for (playback loads the whole last 24 h once). */
export function loadRange(now = Date.now()): [number, number | null] {
  if (s.playAt !== null) return [now - 24 * HOUR - s.playSpan, null];
  if (s.preset === "custom") return [s.customFrom, s.customTo || null];
  return [now - PRESETS[s.preset], null];
}

export function serverParams(): URLSearchParams {
  const p = new URLSearchParams();
  const f = s.filters;
  const [from, to] = loadRange();
  p.set("since", new Date(from).toISOString());
  if (to) p.set("until", new Date(to).toISOString());
  if (f.type.length) p.set("type", f.type.join(","));
  if (f.layer.length) p.set("layer", f.layer.join(","));
  if (f.agency.length) p.set("agency", f.agency.join(","));
  if (f.country.length) p.set("country", f.country.join(","));
  if (f.state.length) p.set("state", f.state.join(","));
  if (f.q.trim()) p.set("q", f.q.trim());
  return p;
}

/** Whether a report passes the window and every filter (the server applies most; live updates and
 *  playback are filtered here, and grade and impact only here). */
export function shown(r: Report, range = windowRange()): boolean {
  const f = s.filters;
  const at = Date.parse(r.observed_at);
  if (at < range[0] || at > range[1]) return false;
  if (r.state === "retracted") return false;
  if (f.type.length && !f.type.includes(r.type)) return false;
  if (f.layer.length && !f.layer.includes(r.layer)) return false;
  if (f.agency.length && !f.agency.includes(r.owner_agency)) return false;
  if (f.country.length && !f.country.includes(r.owner_country)) return false;
  if (f.state.length && !f.state.includes(r.state)) return false;
  if (f.impact.length && !f.impact.includes(r.impact ?? "")) return false;
  if (f.grade.length && !(r.grade && (f.grade.includes(r.grade.source) || f.grade.includes(String(r.grade.info))))) return false;
  if (f.q.trim() && !s.qMatched.has(r.id)) {
    const hay = [r.description, r.reaction, r.salute?.activity, r.salute?.unit, r.salute?.equipment, r.type].join(" ").toLowerCase();
    if (!f.q.trim().toLowerCase().split(/\s+/).every((w) => hay.includes(w))) return false;
  }
  return true;
}

export function visibleReports(): Report[] {
  const range = windowRange();
  const out: Report[] = [];
  for (const r of s.reports.values()) if (shown(r, range)) out.push(r);
  return out;
}

export function activeFilterCount(): number {
  const f = s.filters;
  return f.type.length + f.layer.length + f.agency.length + f.country.length + f.state.length + f.grade.length + f.impact.length;
}

// ---- actions: session
export function signedIn(me: Me, node: NodeInfo, taxonomy: Taxonomy, agencies: Agency[]) {
  Object.assign(s, { me, node, taxonomy, agencies });
  emit("session");
}

/** The session ended: nothing of what that user could see stays in the page. */
export function signedOut() {
  Object.assign(s, { me: null, node: null, taxonomy: null, agencies: [], reports: new Map(), units: new Map(), sections: new Map(),
    fieldAlerts: new Map(), chat: [], unread: 0, alerts: [], lastUpdate: "", qMatched: new Set(), live: "unavailable", panel: null,
    picking: false, picked: null });
  emit("reports", { upserted: [], removed: [], replaced: true });
  for (const topic of ["units", "sections", "field", "chat", "alerts", "live", "panel", "pick"] as const) emit(topic);
}

// ---- actions: reports
function noteUpdate(r: { updated_at?: string }) {
  if (r.updated_at && r.updated_at > s.lastUpdate) s.lastUpdate = r.updated_at;
}

/** The reports of the time window, as the node answered for the current query: they replace the
 *  picture, except one's own reports still open (a duty officer's queue outlives the window). */
export function windowLoaded(items: Report[]) {
  const keep = new Map<string, Report>();
  for (const r of s.reports.values()) if (r.owner_country === s.me?.country && ["submitted", "returned"].includes(r.state)) keep.set(r.id, r);
  s.reports = keep;
  s.qMatched = new Set(s.filters.q.trim() ? items.map((r) => r.id) : []);
  for (const r of items) { s.reports.set(r.id, r); noteUpdate(r); }
  emit("reports", { upserted: items.map((r) => r.id), removed: [], replaced: true });
}

/** Reports the node sent or answered one by one (a push, an action's answer, an opened report). */
export function reportsReceived(items: Report[], { pushed = false } = {}) {
  for (const r of items) {
    if (pushed) s.qMatched.delete(r.id);
    s.reports.set(r.id, r);
    noteUpdate(r);
  }
  if (items.length) emit("reports", { upserted: items.map((r) => r.id), removed: [], replaced: false });
}

/** Reports fetched by a catch-up: an older copy never replaces a newer one and an unchanged one is
 *  left alone; with `alert`, a duty officer hears of a report flagged urgent meanwhile. */
export function reportsCaughtUp(items: Report[], { alert }: { alert: boolean }) {
  const changed: string[] = [];
  for (const r of items) {
    const old = s.reports.get(r.id);
    noteUpdate(r);
    if (old && (old.updated_at > r.updated_at || (old.updated_at === r.updated_at && old.urgent === r.urgent && old.handler === r.handler))) continue;
    if (alert && old && !old.urgent && r.urgent) raiseAlert({ report_id: r.id, by: r.updated_by ?? "", at: r.updated_at, note: r.urgent_note ?? "", report: r });
    s.reports.set(r.id, r);
    changed.push(r.id);
  }
  if (changed.length) emit("reports", { upserted: changed, removed: [], replaced: false });
}

export function reportRemoved(id: string) {
  s.reports.delete(id);
  emit("reports", { upserted: [], removed: [id], replaced: false });
}

// ---- actions: units and sections
export function unitsLoaded(items: Unit[]) { s.units = new Map(items.map((x) => [x.id, x])); emit("units"); }
export function unitChanged(u: Unit) { s.units.set(u.id, u); emit("units"); }
export function sectionsLoaded(items: Section[]) { s.sections = new Map(items.map((x) => [x.id, x])); emit("sections"); }
export function sectionChanged(x: Section) { s.sections.set(x.id, x); emit("sections"); }

// ---- actions: the field (TAK alerts and chat)
export function fieldLoaded(alerts: FieldAlert[], chat: ChatMessage[]) {
  s.fieldAlerts = new Map(alerts.map((x) => [x.uid, x]));
  const known = new Set(s.chat.map((m) => m.id));
  if (s.chat.length && !s.feedOpen) s.unread += chat.filter((m) => !known.has(m.id)).length;  // missed while offline
  s.chat = chat.slice(0, CHAT_KEEP);
  emit("field"); emit("chat");
}
export function fieldAlertChanged(a: FieldAlert) {
  if (a.state === "cancelled") s.fieldAlerts.delete(a.uid); else s.fieldAlerts.set(a.uid, a);
  emit("field");
}
export function chatReceived(m: ChatMessage) {
  if (s.chat.some((x) => x.id === m.id)) return;
  s.chat = [m, ...s.chat].slice(0, CHAT_KEEP);
  if (!s.feedOpen) s.unread++;
  emit("chat");
}
export function feedToggled(open = !s.feedOpen) {
  s.feedOpen = open;
  if (open) s.unread = 0;
  emit("chat");
}

// ---- actions: urgent banners (duty officers only)
export function raiseAlert(a: Alert) {
  if (!isDutyOfficer()) return;
  if (a.report) reportsReceived([a.report]);
  s.alerts = [a, ...s.alerts.filter((x) => x.report_id !== a.report_id)];
  emit("alerts");
}
export function alertDismissed(reportId: string) {
  s.alerts = s.alerts.filter((x) => x.report_id !== reportId);
  emit("alerts");
}

// ---- actions: filters and the time window
const SERVER_SIDE: FilterKey[] = ["type", "layer", "agency", "country", "state"];
export function filterToggled(key: FilterKey, value: string, on: boolean) {
  const now = s.filters[key].filter((v) => v !== value);
  if (on) now.push(value);
  s.filters = { ...s.filters, [key]: now };
  emit(SERVER_SIDE.includes(key) ? "query" : "view");
}
export function filtersCleared() {
  s.filters = { ...NO_FILTERS(), q: s.filters.q };
  emit("query");
}
export function searched(q: string) {
  s.filters = { ...s.filters, q };
  emit("query");
}
export function presetChosen(p: Preset, custom?: { from: number; to: number }) {
  s.playAt = null;
  s.preset = p;
  if (custom) { s.customFrom = custom.from; s.customTo = custom.to; }
  emit("query");
}
/** Playback moved to `at` (ms); the first move loads the last 24 h. */
export function playbackAt(at: number) {
  const starting = s.playAt === null;
  s.playAt = at;
  emit(starting ? "query" : "view");
}
export function playbackStopped() {
  if (s.playAt === null) return;
  s.playAt = null;
  emit("query");
}
/** Time passed: a window that ends now has moved. */
export function clockTicked() { emit("view"); }

// ---- actions: the live feed and loading
export function liveChanged(status: LiveStatus) { s.live = status; emit("live"); }
export function busyChanged(busy: boolean) { s.busy = busy; emit("busy"); }

// ---- actions: what the views ask of each other
export function reportSelected(id: string, fly = true) { setPanel({ kind: "report", id, fly }); }
/** The form to file a report; while it is open a click on the map picks the report's point. */
export function formOpened() { setPanel({ kind: "form" }); }
export function panelClosed() { setPanel(null); }
function setPanel(p: State["panel"]) {
  const picking = p?.kind === "form";
  s.panel = p;
  if (picking || s.picking) { s.picking = picking; s.picked = null; emit("pick"); }
  emit("panel");
}
export function filtersToggled(open = !s.filtersOpen) { s.filtersOpen = open; emit("ui"); }
export function triageToggled(open = !s.triageOpen) { s.triageOpen = open; emit("ui"); }
export function focusRequested(at: LatLon, zoom: number, exact = false) { s.focus = { at, zoom, exact }; emit("focus"); }
export function pointPicked(at: LatLon) { if (s.picking) { s.picked = at; emit("pick"); } }
