// The node's REST API, as the page uses it. The token lasts a shift and lives in sessionStorage.
// The documents' types come from the API's OpenAPI document (openapi.json -> openapi.d.ts, by
// `npm run api-types`), never written by hand here.
import type { components, paths } from "./openapi";

type Schemas = components["schemas"];
export type LatLon = Schemas["LatLon"];
export type Audience = Schemas["Audience"];
export type Report = Schemas["Report"];
export type Unit = Schemas["Unit"];
export type Section = Schemas["Section"];
export type FieldAlert = Schemas["FieldAlert"];
export type ChatMessage = Schemas["ChatMessage"];
export type Me = Schemas["Me"];
export type NodeInfo = Schemas["NodeInfo"];
export type Agency = Schemas["Agency"];
export type Taxonomy = Schemas["Taxonomy"];
/** A patrol as it runs: its units' actual tracks, and each rendezvous met, missed or pending. */
export interface PatrolProgress {
  patrol: string; at: string; radius_m: number;
  tracks: { unit: string; country: string; fixes: number; first: string | null; last: string | null;
    geometry: { type: "LineString"; coordinates: number[][] } | { type: "Point"; coordinates: number[] } | null }[];
  rendezvous: { name: string; lon: number; lat: number; countries: string[]; at: string | null; status: "met" | "missed" | "pending";
    met_at: string | null; units: string[] }[];
}
/** The stretches of a border section that no unit track came near in the window, and since when. */
export type Coverage = Schemas["SectionCoverage"];
type Token = Schemas["Token"];

// ---- issue 12: joint operations, journals, patrols, checkpoints: the API's documents, with their
// GeoJSON and code lists narrowed (the OpenAPI document says them in words).
export interface Polygon { type: "Polygon"; coordinates: number[][][] }
export type MissionStatus = "NST" | "IPR" | "PAU" | "COM" | "CANCLD";
export type Sector = Omit<Schemas["Sector"], "polygon"> & { polygon: Polygon };
export type Operation = Omit<Schemas["Operation"], "area" | "sectors" | "status"> & { area: Polygon; sectors: Sector[]; status: MissionStatus };
export type JournalEntry = Schemas["JournalLine"];
export type Waypoint = Omit<Schemas["Waypoint"], "kind"> & { kind: "waypoint" | "rendezvous" | "checkpoint" };
export type Patrol = Omit<Schemas["Patrol"], "status" | "route"> & { status: MissionStatus; route: Waypoint[] };
export type CheckpointStatus = "open" | "closed" | "reinforced";
export type Checkpoint = Omit<Schemas["Checkpoint"], "point" | "status" | "history"> & {
  point: { type: "Point"; coordinates: [number, number] }; status: CheckpointStatus;
  history: (Omit<Schemas["CheckpointChange"], "status"> & { status: CheckpointStatus })[];
};

/** The API's GET routes (under /api/v1, as templates: "/reports/{report_id}") and what each answers. */
type GetRoutes = {
  [P in keyof paths as paths[P] extends { get: unknown } ? (P extends `/api/v1${infer R}` ? R : never) : never]:
    paths[P] extends { get: { responses: { 200: { content: { "application/json": infer T } } } } } ? T : never;
};

export class ApiError extends Error {
  constructor(public status: number, message: string, public field?: string) { super(message); }
}

const KEY = "fossatum.token";
export const session = {
  get token(): string | null { return sessionStorage.getItem(KEY); },
  set(token: string, expires: string) { sessionStorage.setItem(KEY, token); sessionStorage.setItem(KEY + ".exp", expires); },
  clear() { sessionStorage.removeItem(KEY); sessionStorage.removeItem(KEY + ".exp"); },
};

let onUnauthorized: () => void = () => {};
export function whenUnauthorized(f: () => void) { onUnauthorized = f; }
/** The server ended the session (e.g. the live feed closed with 4401): back to the login. */
export function unauthorized() { onUnauthorized(); }

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const token = session.token;
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const doc = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    if (res.status === 401 && token && path !== "/auth/token") onUnauthorized();
    throw new ApiError(res.status, doc?.detail ?? doc?.title ?? res.statusText, doc?.field);
  }
  return doc as T;
}

/** GET a route, its {placeholders} filled from `vars`: the answer typed as the OpenAPI document says. */
export function get<R extends keyof GetRoutes>(route: R, vars: Record<string, string> = {}, query?: URLSearchParams): Promise<GetRoutes[R]> {
  const path = route.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(vars[k]));
  return call<GetRoutes[R]>("GET", query ? `${path}?${query}` : path);
}
export const post = <T>(path: string, body?: unknown) => call<T>("POST", path, body ?? {});
export const patch = <T>(path: string, body: unknown) => call<T>("PATCH", path, body);
export const put = <T>(path: string, body: unknown) => call<T>("PUT", path, body);

export async function login(username: string, password: string): Promise<void> {
  const r = await call<Token>("POST", "/auth/token", { username, password });
  session.set(r.access_token, r.expires_at);
}

export async function logout(): Promise<void> {
  try { await call("POST", "/auth/logout"); } catch { /* the session ends here either way */ }
  session.clear();
}

/** Every report matching `params`, following `next` pages. */
export async function allReports(params: URLSearchParams, pageSize = 5000, max = 50_000): Promise<Report[]> {
  const out: Report[] = [];
  let cursor: string | null = null;
  do {
    const p = new URLSearchParams(params);
    p.set("limit", String(pageSize));
    if (cursor) p.set("cursor", cursor);
    const page = await get("/reports", {}, p);
    out.push(...page.items);
    cursor = page.next;
  } while (cursor && out.length < max);
  return out;
}
