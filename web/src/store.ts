// What the page knows: the reports loaded for the time window, the filters, and who is looking.
import type { Agency, Me, NodeInfo, Report, Section, Taxonomy, Unit } from "./api";

export interface Filters {
  type: string[]; layer: string[]; agency: string[]; country: string[]; state: string[];
  grade: string[]; impact: string[]; q: string;
}
export type Preset = "6h" | "24h" | "7d" | "custom";

export const HOUR = 3600_000;
export const PRESETS: Record<Exclude<Preset, "custom">, number> = { "6h": 6 * HOUR, "24h": 24 * HOUR, "7d": 7 * 24 * HOUR };

export const state = {
  me: null as Me | null,
  node: null as NodeInfo | null,
  taxonomy: null as Taxonomy | null,
  agencies: [] as Agency[],
  reports: new Map<string, Report>(),
  units: new Map<string, Unit>(),
  sections: new Map<string, Section>(),
  filters: { type: [], layer: [], agency: [], country: [], state: [], grade: [], impact: [], q: "" } as Filters,
  preset: "24h" as Preset,
  customFrom: 0,
  customTo: 0,
  /** During playback: the moving end of a 2-hour window over the last 24 h. */
  playAt: null as number | null,
  playSpan: 2 * HOUR,
  lastUpdate: "",
  /** Ids the server matched for the current text search (its matching is the reference). */
  qMatched: new Set<string>(),  // the newest updated_at seen: where a reconnect catches up from
};

export const isDutyOfficer = () => !!state.me?.roles.includes("duty_officer");

/** The time window shown, as [from, to] in ms. */
export function windowRange(now = Date.now()): [number, number] {
  if (state.playAt !== null) return [state.playAt - state.playSpan, state.playAt];
  if (state.preset === "custom") return [state.customFrom, state.customTo || now];
  return [now - PRESETS[state.preset], now + 5 * 60_000];
}
/** The window the server is asked for (playback loads the whole last 24 h once). */
export function loadRange(now = Date.now()): [number, number | null] {
  if (state.playAt !== null) return [now - 24 * HOUR - state.playSpan, null];
  if (state.preset === "custom") return [state.customFrom, state.customTo || null];
  return [now - PRESETS[state.preset], null];
}

export function serverParams(): URLSearchParams {
  const p = new URLSearchParams();
  const f = state.filters;
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
  const f = state.filters;
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
  if (f.q.trim() && !state.qMatched.has(r.id)) {
    const hay = [r.description, r.reaction, r.salute?.activity, r.salute?.unit, r.salute?.equipment, r.type].join(" ").toLowerCase();
    if (!f.q.trim().toLowerCase().split(/\s+/).every((w) => hay.includes(w))) return false;
  }
  return true;
}

export function noteUpdate(r: { updated_at?: string }) {
  if (r.updated_at && r.updated_at > state.lastUpdate) state.lastUpdate = r.updated_at;
}
