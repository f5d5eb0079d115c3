// The node's REST API, as the page uses it. The token lasts a shift and lives in sessionStorage.
export interface LatLon { lat: number; lon: number; mgrs?: string }
export interface Audience { scope: string; partners: string[]; owner_agency?: string; owner_country?: string; releasable_to?: string[]; tlp?: string }
export interface Report {
  id: string; type: string; layer: string; state: string; version: number;
  observed_at: string; reported_at: string; updated_at: string; updated_by?: string;
  location: LatLon; uncertainty_m: number;
  salute: { size?: number | string | null; activity?: string; unit?: string; equipment?: string };
  grade: { source: string; info: number; code: string } | null;
  impact: string | null; reaction: string; description: string; links: string[];
  audience: Audience; tlp: string; visible_to: string;
  author: string; owner_agency: string; owner_country: string; origin: string;
  validated_at?: string | null; validated_by?: string | null; returned_reason?: string | null; closed_reason?: string | null;
  handler?: string | null; urgent?: boolean; urgent_note?: string;
}
export interface Unit { id: string; callsign: string; name: string; kind: string; owner_agency: string; owner_country: string; position: LatLon | null; position_at: string | null; audience: Audience }
export interface Section { id: string; name: string; geometry: GeoJSON.Geometry; impact: string; impact_set_by: string; impact_set_at: string; impact_reason: string; owner_country: string; terrain?: string; responsible?: Record<string, string[]> }
export interface FieldAlert {
  uid: string; kind: string; state: "raised" | "cancelled"; position: LatLon; callsign: string; text: string; at: string;
  raised_by: string; owner_agency: string; owner_country: string; audience: Audience;
}
export interface ChatMessage {
  id: string; room: string; text: string; callsign: string; sender_uid: string; position: LatLon; at: string;
  author: string; owner_agency: string; owner_country: string; audience: Audience;
}
export interface Me { username: string; agency: string; country: string; roles: string[]; full_name: string }
export interface NodeInfo { node_id: string; country: string; name: string; roster: string[] }
export interface Agency { code: string; name: string; country: string }
export interface Taxonomy { types: { code: string; layer: string }[]; layers: string[]; states: string[]; impact_levels: string[]; grade: { source: string[]; info: number[] } }

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

export const get = <T>(path: string) => call<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => call<T>("POST", path, body ?? {});

export async function login(username: string, password: string): Promise<void> {
  const r = await call<{ access_token: string; expires_at: string }>("POST", "/auth/token", { username, password });
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
    const page: { items: Report[]; next: string | null } = await get(`/reports?${p}`);
    out.push(...page.items);
    cursor = page.next;
  } while (cursor && out.length < max);
  return out;
}
