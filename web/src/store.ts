// What the page knows, and the only place it changes. Views read `state` (typed read-only), call
// the named actions below, and subscribe to the topics an action announces; none of them changes
// shared state or another view directly. The node's data enters through sync.ts and live.ts only.
import type {
  Agency, ChatMessage, Checkpoint, Coverage, PatrolProgress, FieldAlert, JournalEntry, Me, NodeInfo, Operation, Patrol, Report, Section, Taxonomy, Unit,
} from "./api";

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
/** What the operations panel beside the map shows. */
export type OpsView = { kind: "board" } | { kind: "operation"; id: string } | { kind: "patrol"; id: string }
  | { kind: "checkpoint"; id: string } | { kind: "new-operation" } | { kind: "new-patrol" } | { kind: "new-checkpoint" }
  | { kind: "sectors"; id: string };
/** A shape being drawn on the map: corners so far, and what it is for (the form that asked). */
export interface Drawing { mode: "polygon" | "line" | "point"; purpose: string; points: LatLon[]; snap: LatLon[] }
/** What an open form has drawn but not yet saved, shown on the map. */
export interface Preview {
  polygons: { points: LatLon[]; country: string | null; label: string }[];
  line: LatLon[] | null;
  marks: { at: LatLon; kind: string; label: string }[];
}

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
  /** Joint operations, patrols and checkpoints this viewer may see (issue 12). */
  operations: Map<string, Operation>;
  patrols: Map<string, Patrol>;
  checkpoints: Map<string, Checkpoint>;
  /** Journal entries by operation, oldest first; present once the operation's journal was loaded. */
  journals: Map<string, JournalEntry[]>;
  opsOpen: boolean; opsView: OpsView;
  /** The shape being drawn, and the last one finished (until its form takes it). */
  drawing: Drawing | null; drawn: Drawing | null; preview: Preview | null;
  /** The coverage-gaps layer: on or off, its window, and the gaps by section. */
  coverageOn: boolean; coverageHours: number; coverage: Map<string, Coverage>;
  /** The open patrol's progress (actual tracks, rendezvous met or missed), as last fetched. */
  progress: PatrolProgress | null;
}

type ReadonlyState = { readonly [K in keyof State]: State[K] extends Map<infer A, infer B> ? ReadonlyMap<A, B>
  : State[K] extends Set<infer A> ? ReadonlySet<A> : State[K] extends (infer A)[] ? readonly A[] : Readonly<State[K]> };

const s: State = {
  me: null, node: null, taxonomy: null, agencies: [],
  reports: new Map(), units: new Map(), sections: new Map(), fieldAlerts: new Map(), chat: [], unread: 0, feedOpen: false, filtersOpen: false, triageOpen: false,
  alerts: [], filters: NO_FILTERS(), preset: "24h", customFrom: 0, customTo: 0, playAt: null, playSpan: 2 * HOUR,
  lastUpdate: "", qMatched: new Set(), live: "unavailable", busy: false, panel: null, focus: null, picking: false, picked: null,
  operations: new Map(), patrols: new Map(), checkpoints: new Map(), journals: new Map(), opsOpen: false, opsView: { kind: "board" },
  drawing: null, drawn: null, preview: null, coverageOn: false, coverageHours: 24, coverage: new Map(), progress: null,
};
/** Read-only to everyone but this module. */
export const state: ReadonlyState = s;

// ---- subscriptions
/** What an action announces. `query`: what the node must be asked for changed (server-side filters,
 *  time window, playback start/stop); `view`: what is shown of it changed (client-side filters,
 *  the playback position, the clock). */
export type Topic = "session" | "reports" | "units" | "sections" | "field" | "chat" | "alerts" | "query" | "view"
  | "live" | "busy" | "panel" | "focus" | "pick" | "ui"
  // issue 12: operations/patrols/checkpoints changed; a journal changed; the ops panel; drawing; coverage
  | "ops" | "journal" | "opsview" | "draw" | "preview" | "coverage" | "progress";
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
    picking: false, picked: null, operations: new Map(), patrols: new Map(), checkpoints: new Map(), journals: new Map(),
    opsView: { kind: "board" }, drawing: null, drawn: null, preview: null, coverage: new Map(), progress: null });
  emit("reports", { upserted: [], removed: [], replaced: true });
  for (const topic of ["units", "sections", "field", "chat", "alerts", "live", "panel", "pick", "ops", "journal", "opsview", "draw", "preview", "coverage", "progress"] as const) emit(topic);
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

/** A purge or a loss of access: the node names the object by id (its kind is not said), and
 *  whatever the page held under that id goes. */
export function reportRemoved(id: string) {
  s.reports.delete(id);
  emit("reports", { upserted: [], removed: [id], replaced: false });
  objectRemoved(id);
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

// ---- actions: joint operations, patrols, checkpoints (issue 12)
const byId = <T extends { id: string }>(items: T[]) => new Map(items.map((x) => [x.id, x]));
/** Older copies never replace newer ones (a catch-up may cross a live push). */
const newer = (old: { updated_at: string } | undefined, doc: { updated_at: string }) => !old || old.updated_at <= doc.updated_at;

export function opsLoaded(ops: Operation[] | null, patrols: Patrol[] | null, checkpoints: Checkpoint[] | null) {
  if (ops) {
    s.operations = byId(ops);
    for (const id of s.journals.keys()) if (!s.operations.has(id)) s.journals.delete(id);
  }
  if (patrols) s.patrols = byId(patrols);
  if (checkpoints) s.checkpoints = byId(checkpoints);
  emit("ops");
  closeViewOfGone();
}
export function operationChanged(o: Operation) { if (newer(s.operations.get(o.id), o)) { s.operations.set(o.id, o); emit("ops"); } }
export function patrolChanged(p: Patrol) { if (newer(s.patrols.get(p.id), p)) { s.patrols.set(p.id, p); emit("ops"); } }
export function checkpointChanged(c: Checkpoint) { if (newer(s.checkpoints.get(c.id), c)) { s.checkpoints.set(c.id, c); emit("ops"); } }

function objectRemoved(id: string) {
  let hit = s.operations.delete(id) || s.patrols.delete(id) || s.checkpoints.delete(id);
  hit = s.journals.delete(id) || hit;
  for (const [op, entries] of s.journals) {
    const kept = entries.filter((e) => e.id !== id);
    if (kept.length !== entries.length) { s.journals.set(op, kept); emit("journal"); }
  }
  if (hit) { emit("ops"); closeViewOfGone(); }
}
/** The open operation, patrol or checkpoint went (purged, or this viewer lost it): back to the board. */
function closeViewOfGone() {
  const v = s.opsView;
  const gone = (v.kind === "operation" && !s.operations.has(v.id)) || (v.kind === "patrol" && !s.patrols.has(v.id))
    || (v.kind === "checkpoint" && !s.checkpoints.has(v.id));
  if (gone) { s.opsView = { kind: "board" }; emit("opsview"); }
}

const byTime = (a: JournalEntry, b: JournalEntry) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id);
export function journalLoaded(operation: string, entries: JournalEntry[]) {
  s.journals.set(operation, [...entries].sort(byTime));
  emit("journal");
}
/** One entry (pushed, or the answer to writing it): added once, in time order. */
export function journalReceived(e: JournalEntry) {
  const list = s.journals.get(e.operation);
  if (!list) { if (s.operations.has(e.operation)) { s.journals.set(e.operation, [e]); emit("journal"); } return; }
  s.journals.set(e.operation, [...list.filter((x) => x.id !== e.id), e].sort(byTime));
  emit("journal");
}

export function opsToggled(open = !s.opsOpen) {
  s.opsOpen = open;
  if (!open && s.drawing) drawCancelled();  // a shape is drawn for a form: not without it
  emit("opsview");
}
export function opsViewed(v: OpsView) {
  if (s.drawing) drawCancelled();
  if (s.preview) previewSet(null);
  if (s.progress && !(v.kind === "patrol" && v.id === s.progress.patrol)) { s.progress = null; emit("progress"); }
  s.opsView = v; s.opsOpen = true; s.drawn = null;
  emit("opsview");
}
export function previewSet(p: Preview | null) { s.preview = p; emit("preview"); }

// ---- actions: drawing a shape on the map (an operation's area or a sector, a patrol's route)
/** Start drawing; a click near one of `snap` (corners of shapes already there) takes that exact point. */
export function drawStarted(mode: Drawing["mode"], purpose: string, snap: LatLon[] = []) {
  if (s.picking) setPanel(null);
  s.drawing = { mode, purpose, points: [], snap }; s.drawn = null;
  emit("draw");
}
export function vertexAdded(at: LatLon) {
  if (!s.drawing) return;
  s.drawing = { ...s.drawing, points: [...s.drawing.points, at] };
  emit("draw");
}
export function vertexUndone() {
  if (!s.drawing || !s.drawing.points.length) return;
  s.drawing = { ...s.drawing, points: s.drawing.points.slice(0, -1) };
  emit("draw");
}
/** The shape is complete (a polygon needs 3 corners, a line 2); `drawn` holds it for its form. */
export function drawFinished(): boolean {
  const d = s.drawing;
  if (!d || d.points.length < (d.mode === "polygon" ? 3 : d.mode === "line" ? 2 : 1)) return false;
  s.drawing = null; s.drawn = d;
  emit("draw");
  return true;
}
export function drawCancelled() { if (!s.drawing) return; s.drawing = null; emit("draw"); }
/** The form took the finished shape. */
export function drawnTaken() { s.drawn = null; }

// ---- actions: the coverage-gaps layer
export function coverageToggled(on = !s.coverageOn, hours = s.coverageHours) {
  s.coverageOn = on; s.coverageHours = hours;
  if (!on) s.coverage = new Map();
  emit("coverage");
}
export function coverageLoaded(items: Coverage[]) { s.coverage = new Map(items.map((c) => [c.section, c])); emit("coverage"); }
export function progressLoaded(p: PatrolProgress | null) { s.progress = p; emit("progress"); }
