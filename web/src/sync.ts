// The one way the page's picture is brought up to date from the node: the first load, the live
// feed's (re)connection, polling while the feed is down, a changed query and the duty officer's
// queue all call `catchUp`, and what it fetches enters the store through its actions.
import { allReports, call, get, type Checkpoint, type Coverage, type Operation, type Patrol, type PatrolProgress } from "./api";
import { toast } from "./dom";
import { t } from "./i18n";
import {
  HOUR, busyChanged, coverageLoaded, fieldLoaded, journalLoaded, operationChanged, opsLoaded, progressLoaded, reportsCaughtUp, sectionsLoaded, serverParams, state,
  unitsLoaded, windowLoaded,
} from "./store";

/** `all`: the whole picture (at start, and after the live feed was down: what was removed meanwhile
 *  disappears), then what changed outside the window; `window`: the reports of the current query;
 *  `changes`: what changed since the newest update seen (the gap before the feed answered, and
 *  polling while it is down); `queue`: the duty officer's own open reports of the last 7 days. */
export type Need = "all" | "window" | "changes" | "queue";

const CHAT_KEEP = 200;
// A little overlap: an entry committed while the feed was down may carry a slightly older stamp.
const OVERLAP_MS = 5000;

export async function catchUp(need: Need): Promise<void> {
  if (need === "window") return loadWindow();
  if (need === "queue") return loadQueue();
  if (need === "changes") { await Promise.all([loadChanges(), loadField(), loadOps()]); return; }
  const since = state.lastUpdate;
  await Promise.all([loadWindow(), loadUnits(), loadSections(), loadField(), loadOps()]);
  void loadCoverage();
  if (since) await loadChanges(since);
}

let windowSeq = 0;
async function loadWindow() {
  const seq = ++windowSeq;
  busyChanged(true);
  try {
    const items = await allReports(serverParams());
    if (seq === windowSeq) windowLoaded(items);
  } catch (e) { toast(`${t("error")}: ${(e as Error).message}`, "error"); } finally { if (seq === windowSeq) busyChanged(false); }
}

async function loadChanges(since = state.lastUpdate || new Date(Date.now() - 60_000).toISOString()) {
  const from = new Date(Date.parse(since) - OVERLAP_MS).toISOString();
  // Polling while the feed is down is how a duty officer hears of an urgent flag meanwhile.
  const alert = state.live !== "live";
  try { reportsCaughtUp(await allReports(new URLSearchParams({ updated_since: from }), 2000, 20_000), { alert }); } catch { /* the next round tries again */ }
}

async function loadQueue() {
  const p = new URLSearchParams({ country: state.me!.country, state: "submitted,returned,validated", since: new Date(Date.now() - 7 * 24 * HOUR).toISOString() });
  try { reportsCaughtUp(await allReports(p, 2000, 4000), { alert: false }); } catch { /* shown as it is */ }
}

// Units, sections and the field are optional layers: the report picture works without them.
async function loadUnits() { try { unitsLoaded((await get("/units")).items); } catch { /* optional layer */ } }
async function loadSections() { try { sectionsLoaded((await get("/sections")).items); } catch { /* optional layer */ } }
async function loadField() {
  try {
    const [a, c] = await Promise.all([get("/alerts"), get("/chat", {}, new URLSearchParams({ limit: String(CHAT_KEEP) }))]);
    fieldLoaded(a.items, c.items);
  } catch { /* optional layer */ }
}

// ---- issue 12: operations, patrols, checkpoints; an operation's journal; coverage gaps.
// Optional layers too: a node without them (or a viewer refused them) keeps the report picture.
// A patrol's progress is not on the node yet (issue 12 lands step by step): asked for once it is.
export const PROGRESS_ROUTE = false;
async function loadOps() {
  // GeoJSON and status narrowed (api.ts)
  const ops = async () => { try { return (await get("/operations")).items as unknown as Operation[]; } catch { return null; } };
  const cps = async () => { try { return (await get("/checkpoints")).items as unknown as Checkpoint[]; } catch { return null; } };
  const pas = async () => { try { return (await get("/patrols")).items as unknown as Patrol[]; } catch { return null; } };
  const [operations, patrols, checkpoints] = await Promise.all([ops(), pas(), cps()]);
  opsLoaded(operations, patrols, checkpoints);
  // The journals of the operations under way (the board shows each one's latest line, and an open
  // one is caught up with what was written while the feed was down): a few operations at a time.
  const running = [...state.operations.values()].filter((o) => ["NST", "IPR", "PAU"].includes(o.status)).slice(0, 20);
  await Promise.all(running.map((o) => loadJournal(o.id)));
  const v = state.opsView;
  if (v.kind === "operation" && state.operations.has(v.id) && !running.some((o) => o.id === v.id)) await loadJournal(v.id);
}

export async function loadJournal(operation: string) {
  try { journalLoaded(operation, (await get("/operations/{operation_id}/journal", { operation_id: operation })).items); } catch { /* shown as it is */ }
}

/** The gaps of every border section this viewer sees, over the chosen window. */
let coverageAt = 0;
export async function loadCoverage() {
  if (!state.coverageOn) return;
  coverageAt = Date.now();
  const hours = String(state.coverageHours);
  const all = await Promise.all([...state.sections.keys()].map(async (id) => {
    try { return await get("/sections/{section_id}/coverage", { section_id: id }, new URLSearchParams({ hours })); } catch { return null; }
  }));
  if (state.coverageOn) coverageLoaded(all.filter((c): c is Coverage => !!c));
}

/** The open patrol's actual tracks and rendezvous, fetched again when the patrol changes. */
export async function loadProgress(patrol: string) {
  if (!PROGRESS_ROUTE) return;
  try { progressLoaded(await call<PatrolProgress>("GET", `/patrols/${encodeURIComponent(patrol)}/progress`)); } catch { progressLoaded(null); }
}

/** An operation as the node's read model shows it to this viewer: the pushed document is the lead's,
 *  and the units each country assigned to its sectors (its journal lines) are merged by the node. */
export async function refreshOperation(id: string) {
  try { operationChanged((await get("/operations/{operation_id}", { operation_id: id })) as unknown as Operation); } catch { /* gone, or the next catch-up */ }
}

/** Positions moved: the gaps are asked for again, at most once a minute (each asks every section). */
export function coverageMoved() {
  if (state.coverageOn && Date.now() - coverageAt > 60_000) void loadCoverage();
}
