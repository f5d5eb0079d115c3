// The operations panel beside the map (issue 12): the board (operations, patrols, checkpoints),
// an operation with its phases, sectors and journal in real time, a patrol, a checkpoint with its
// status and history, and the forms to create an operation (draw its area, then its sectors),
// a patrol (draw its route, mark the rendezvous), a journal entry and a checkpoint status change.
//
// Forms are built once per opening and kept: a live update re-renders only the parts that show
// the node's data, so nothing typed is lost and the focus stays put; an error from the node (an
// RFC 9457 problem) is shown in the form, with its field, and the form keeps what was typed.
import { ApiError, call, get, patch, post, put, type Checkpoint, type JournalEntry, type MissionStatus, type Operation, type Patrol, type Polygon, type Waypoint } from "./api";
import { h, toast } from "./dom";
import { lang, num, onLanguage, t, tx, when } from "./i18n";
import { countryClass } from "./palette";
import {
  checkpointChanged, coverageToggled, drawCancelled, drawStarted, drawnTaken, journalReceived, operationChanged, opsToggled, opsViewed,
  patrolChanged, previewSet, reportSelected, state, subscribe, type LatLon, type OpsView,
} from "./store";
import { PROGRESS_ROUTE, loadCoverage, loadJournal, loadProgress, refreshOperation } from "./sync";

let box: HTMLElement;
/** The parts of the open view that show the node's data, re-rendered when it changes. */
let refreshers: { ops?: () => void; journal?: () => void; progress?: () => void } = {};

export function initOps(el: HTMLElement) {
  box = el;
  subscribe(["opsview"], () => render(false));
  subscribe(["session"], () => render(false));
  subscribe(["ops"], () => refreshers.ops?.());
  subscribe(["journal"], () => refreshers.journal?.());
  subscribe(["progress"], () => refreshers.progress?.());
  // Positions move the open patrol's tracks and may meet a rendezvous: ask again, at most every 10 s.
  let again: number | undefined;
  subscribe(["units"], () => {
    const v = state.opsView;
    if (v.kind !== "patrol" || !state.opsOpen || again !== undefined) return;
    again = window.setTimeout(() => { again = undefined; const w = state.opsView; if (w.kind === "patrol") void loadProgress(w.id); }, 10_000);
  });
  subscribe(["draw"], () => drawnHandler?.());
  onLanguage(() => render(true));
}

/** The top bar's button. */
export function opsButton() {
  return h("button", { id: "ops-button", onclick: () => opsToggled(), "aria-keyshortcuts": "o", title: "o", "data-testid": "ops-button" }, t("operations"));
}

// ---------- helpers
const EMSI: MissionStatus[] = ["NST", "IPR", "PAU", "COM", "CANCLD"];
/** EMSI's MISSION transitions, as domain/operation.py's TRANSITIONS (the node decides; this only offers). */
const NEXT: Record<MissionStatus, MissionStatus[]> = { NST: ["IPR", "CANCLD"], IPR: ["PAU", "COM", "CANCLD"], PAU: ["IPR", "COM", "CANCLD"], COM: [], CANCLD: [] };
const statusChip = (s: string) => h("span", { class: `ms ms-${s}`, "data-status": s }, t(`ms_${s}`));
const chip = (c: string) => h("span", { class: `chip ${countryClass(c)}`, title: tx(c) }, c);
const parts = (...xs: (Node | null)[]) => xs.filter((x): x is Node => !!x);
const free = (s: string | null | undefined) => h("span", { dir: "auto" }, s || "—");
const row = (label: string, ...value: (Node | string | null)[]) => h("div.row", {}, h("dt", {}, label), h("dd", {}, ...value));
const roster = () => { const r = state.node?.roster ?? []; const me = state.node?.country; return me && !r.includes(me) ? [me, ...r] : r; };
/** A visiting liaison officer (another country's user at this node) writes nothing here: the node
 *  refuses it (policy/actions.py), so the page does not offer it. */
const writes = () => !!state.me && state.me.country === state.node?.country;
const back = () => h("button.ghost", { onclick: () => opsViewed({ kind: "board" }), "data-testid": "ops-back" }, lang === "ar" ? "→ " : "← ", t("ops_board"));
const closeButton = () => h("button.close", { onclick: () => opsToggled(false), title: t("close"), "aria-label": t("close") }, "×");

/** The error of a refused request, in place: the node's words and the field it names. */
function showError(el: HTMLElement, x: unknown) {
  el.textContent = `${t("error")}: ${(x as Error).message}${x instanceof ApiError && x.field ? ` (${x.field})` : ""}`;
}

/** The phase under way now, or the next one, or the last one. */
export function currentPhase(o: Operation, now = Date.now()): { name: string; state: "now" | "next" | "done" } | null {
  const iso = new Date(now).toISOString();
  const running = o.phases.find((p) => {
    const from = p.actual_start ?? p.planned_start;
    const to = p.actual_end ?? (p.actual_start ? null : p.planned_end);  // started and not ended: under way
    return from <= iso && (to === null || to > iso);
  });
  if (running) return { name: running.name, state: "now" };
  const next = o.phases.find((p) => !p.actual_start && p.planned_start > iso);
  if (next) return { name: next.name, state: "next" };
  const last = o.phases[o.phases.length - 1];
  return last ? { name: last.name, state: "done" } : null;
}
const phaseText = (o: Operation) => { const p = currentPhase(o); return p ? `${t(`phase_${p.state}`)}: ${p.name}` : t("phase_none"); };

// ---------- the view
let viewKey = "";
function render(relabel: boolean) {
  if (!box) return;
  box.hidden = !state.opsOpen || !state.me;
  document.body.classList.toggle("ops-open", !box.hidden);
  if (box.hidden) return;
  const v = state.opsView;
  const key = JSON.stringify(v);
  if (key === viewKey && !relabel && box.childElementCount) return;  // same view: parts refresh themselves
  const was = viewKey ? JSON.parse(viewKey) as OpsView : null;
  if (key !== viewKey && was && FORMS.includes(was.kind) && box.childElementCount) typed.set(viewKey, saveValues(box));
  const kept = key === viewKey ? saveValues(box) : typed.get(key) ?? null;
  viewKey = key;
  refreshers = {};
  drawnHandler = null;
  if (v.kind === "board") renderBoard();
  else if (v.kind === "operation") renderOperation(v.id);
  else if (v.kind === "patrol") renderPatrol(v.id);
  else if (v.kind === "checkpoint") renderCheckpoint(v.id);
  else if (v.kind === "new-operation") renderNewOperation();
  else if (v.kind === "new-checkpoint") renderNewCheckpoint();
  else if (v.kind === "sectors") renderSectorsEditor(v.id);
  else renderNewPatrol();
  if (kept) restoreValues(box, kept);
}

/** What was typed in the open view, by field name (a change of language rebuilds the labels). */
function saveValues(root: HTMLElement): Map<string, string | boolean> {
  const m = new Map<string, string | boolean>();
  for (const e of root.querySelectorAll<HTMLInputElement>("input[name], select[name], textarea[name]")) m.set(e.name, e.type === "checkbox" ? e.checked : e.value);
  return m;
}
function restoreValues(root: HTMLElement, m: Map<string, string | boolean>) {
  // All values first, then their change handlers (one may rebuild rows from the values around it).
  const set: HTMLInputElement[] = [];
  for (const e of root.querySelectorAll<HTMLInputElement>("input[name], select[name], textarea[name]")) {
    const v = m.get(e.name);
    if (v === undefined) continue;
    if (e.type === "checkbox") e.checked = v as boolean; else e.value = v as string;
    set.push(e);
  }
  for (const e of set) if (e.isConnected) e.dispatchEvent(new Event("change"));
}

/** What was typed in a form left for another view (the board, an operation), by view: it is there
 *  again when the form is opened again, until it is sent or cancelled. */
const typed = new Map<string, Map<string, string | boolean>>();
const FORMS = ["new-operation", "new-patrol", "new-checkpoint", "sectors"];
function forget(v: OpsView) { typed.delete(JSON.stringify(v)); }

function frame(title: Node | string, ...parts: (Node | null)[]) {
  box.replaceChildren(h("header", {}, h("h2", {}, title), closeButton()), ...parts.filter((x): x is Node => !!x));
}

// ---------- the board
function renderBoard() {
  const ops = h("ol.op-list", { "data-testid": "op-list" });
  const patrols = h("ol.op-list", { "data-testid": "patrol-list" });
  const cps = h("ol.op-list", { "data-testid": "checkpoint-list" });
  const hours = h("select", { name: "coverage_hours", "aria-label": t("cov_hours"), onchange: () => { if (state.coverageOn) { coverageToggled(true, Number(hours.value)); void loadCoverage(); } } },
    [6, 12, 24, 48, 72].map((n) => h("option", { value: n, selected: n === state.coverageHours }, `${num(n)} h`)));
  const cov = h("input", { type: "checkbox", name: "coverage_on", checked: state.coverageOn, "data-testid": "coverage-toggle",
    onchange: () => { coverageToggled(cov.checked, Number(hours.value)); if (cov.checked) void loadCoverage(); } });
  const fill = () => {
    const list = [...state.operations.values()].sort((a, b) => EMSI.indexOf(a.status) - EMSI.indexOf(b.status) || b.updated_at.localeCompare(a.updated_at));
    ops.replaceChildren(...(list.length ? list.map((o) => h("li.op-row", {
      "data-testid": "op-row", "data-id": o.id, "data-status": o.status, role: "button", tabindex: 0,
      onclick: () => opsViewed({ kind: "operation", id: o.id }), onkeydown: (e: KeyboardEvent) => { if (e.key === "Enter") opsViewed({ kind: "operation", id: o.id }); },
    }, h("div.line1", {}, h("b", { dir: "auto" }, o.code), " ", h("span", { dir: "auto" }, o.name), statusChip(o.status)),
      h("div.meta", {}, tx(`ok_${o.kind}`), " · ", phaseText(o), " · ", ...o.participants.map(chip)),
      lastLine(o.id))) : [h("li.empty", {}, t("ops_none"))]));
    const pl = [...state.patrols.values()].sort((a, b) => a.planned_start.localeCompare(b.planned_start));
    patrols.replaceChildren(...(pl.length ? pl.map((p) => h("li.op-row", {
      "data-testid": "patrol-row", "data-id": p.id, role: "button", tabindex: 0, onclick: () => opsViewed({ kind: "patrol", id: p.id }),
      onkeydown: (e: KeyboardEvent) => { if (e.key === "Enter") opsViewed({ kind: "patrol", id: p.id }); },
    }, h("div.line1", {}, h("b", { dir: "auto" }, p.code), " ", h("span", { dir: "auto" }, p.name), statusChip(p.status)),
      h("div.meta", {}, `${when(p.planned_start)} – ${when(p.planned_end)} · `, ...p.countries.map(chip),
        ` · ${t("wp_rendezvous")}: ${num(p.route.filter((w) => w.kind === "rendezvous").length)}`))) : [h("li.empty", {}, t("patrols_none"))]));
    const cl = [...state.checkpoints.values()].sort((a, b) => a.name.localeCompare(b.name));
    cps.replaceChildren(...(cl.length ? cl.map((c) => h("li.op-row", {
      "data-testid": "checkpoint-row", "data-id": c.id, "data-status": c.status, role: "button", tabindex: 0, onclick: () => opsViewed({ kind: "checkpoint", id: c.id }),
      onkeydown: (e: KeyboardEvent) => { if (e.key === "Enter") opsViewed({ kind: "checkpoint", id: c.id }); },
    }, h("div.line1", {}, h("span", { class: `cp-dot cp-${c.status}` }), h("b", { dir: "auto" }, c.name), h("span", { class: `cp-state cp-state-${c.status}` }, t(`cp_${c.status}`))),
      c.reason ? h("div.meta", { dir: "auto" }, c.reason) : null)) : [h("li.empty", {}, t("checkpoints_none"))]));
  };
  refreshers.ops = fill;
  refreshers.journal = fill;
  fill();
  frame(t("operations"),
    writes() ? h("div.op-tools", {},
      h("button.ok", { onclick: () => opsViewed({ kind: "new-operation" }), "data-testid": "new-operation" }, "+ ", t("op_new")),
      h("button", { onclick: () => opsViewed({ kind: "new-patrol" }), "data-testid": "new-patrol" }, "+ ", t("patrol_new")),
      h("button", { onclick: () => opsViewed({ kind: "new-checkpoint" }), "data-testid": "new-checkpoint" }, "+ ", t("cp_new"))) : null,
    h("label.check.coverage", {}, cov, " ", t("cov_layer"), " ", hours),
    h("h3", {}, t("operations")), ops, h("h3", {}, t("patrols")), patrols, h("h3", {}, t("checkpoints")), cps);
}

// ---------- one operation, its journal beside the map
function renderOperation(id: string) {
  const summary = h("div.op-summary", { "data-testid": "op-summary" });
  const journal = h("ol.journal", { "data-testid": "journal", "aria-live": "polite" });
  const fillSummary = () => {
    const o = state.operations.get(id);
    if (!o) return;
    const lead = writes() && o.lead_country === state.node?.country;
    const statusErr = h("p.error", { role: "alert" });
    const moves = lead ? NEXT[o.status].map((s) => h("button", {
      class: s === "CANCLD" ? "danger" : s === "COM" ? "ok" : "", "data-act": `status-${s}`,
      onclick: async (e: Event) => {
        (e.target as HTMLButtonElement).disabled = true;
        try { operationChanged(await patch<Operation>(`/operations/${o.id}`, { status: s })); } catch (x) { showError(statusErr, x); (e.target as HTMLButtonElement).disabled = false; }
      },
    }, t(`ms_to_${s}`))) : [];
    summary.replaceChildren(...parts(
      h("p.op-title", {}, h("b", { dir: "auto" }, o.name), " ", statusChip(o.status)),
      h("dl", {},
        row(t("op_kind"), tx(`ok_${o.kind}`)),
        row(t("op_phase"), phaseText(o)),
        row(t("op_lead"), chip(o.lead_country), " ", tx(o.lead_country)),
        row(t("op_participants"), ...o.participants.map(chip)),
        row(t("op_command"), ...Object.entries(o.command).map(([c, v]) => h("div", {}, chip(c), " ", free(v.commander), v.deputy ? [" / ", free(v.deputy)] : null) as Node))),
      o.phases.length ? h("table.phases", {}, h("tr", {}, h("th", {}, t("op_phase")), h("th", {}, t("planned")), h("th", {}, t("actual"))),
        o.phases.map((p, i) => h("tr", { "data-testid": "phase-row", "data-phase": p.name }, h("td", { dir: "auto" }, p.name), h("td", {}, `${when(p.planned_start)} – ${when(p.planned_end)}`),
          h("td", {}, p.actual_start ? `${when(p.actual_start)} – ${p.actual_end ? when(p.actual_end) : "…"}` : "—",
            // the lead marks a phase begun or ended now (PATCH phases, the others as they are)
            lead && ["IPR", "PAU"].includes(o.status) && !p.actual_end ? h("button.ghost.phase-act", {
              "data-act": p.actual_start ? "phase-end" : "phase-start", title: t(p.actual_start ? "phase_end" : "phase_start"),
              "aria-label": t(p.actual_start ? "phase_end" : "phase_start"),
              onclick: async (e: Event) => {
                (e.target as HTMLButtonElement).disabled = true;
                const now = new Date().toISOString();
                const phases = o.phases.map((q, j) => ({ ...q, ...(j === i ? (q.actual_start ? { actual_end: now } : { actual_start: now }) : {}) }));
                try { operationChanged(await patch<Operation>(`/operations/${o.id}`, { phases })); await refreshOperation(o.id); } catch (x) { showError(statusErr, x); (e.target as HTMLButtonElement).disabled = false; }
              },
            }, p.actual_start ? "■" : "▶") : null)))) : null,
      h("h3", {}, t("op_sectors")),
      h("ul.sectors", {}, o.sectors.length ? o.sectors.map((s) => h("li", { "data-testid": "sector-row", "data-sector": s.id, "data-country": s.country },
        chip(s.country), " ", free(s.name), s.units.length ? h("span.meta", {}, ` · ${s.units.join(", ")}`) : null)) : [h("li.empty", {}, t("none"))]),
      h("div.actions", {}, ...moves,
        lead && !["COM", "CANCLD"].includes(o.status) ? h("button", { "data-testid": "op-edit-sectors", onclick: () => opsViewed({ kind: "sectors", id: o.id }) }, t("op_edit_sectors")) : null,
        h("button.ghost", { "data-testid": "op-emsi", title: "ISO/TR 22351", onclick: () => void exportEmsi(o, statusErr) }, t("op_emsi"))),
      statusErr));
  };
  const fillJournal = () => {
    const entries = state.journals.get(id);
    if (!entries) { journal.replaceChildren(h("li.empty", {}, "…")); return; }
    journal.replaceChildren(...(entries.length ? [...entries].reverse().map(journalItem) : [h("li.empty", {}, t("journal_empty"))]));
  };
  refreshers.ops = fillSummary;
  refreshers.journal = fillJournal;
  fillSummary(); fillJournal();
  const o = state.operations.get(id);
  frame(h("span", {}, back(), " ", h("span", { dir: "auto" }, o?.code ?? "")), summary,
    h("h3", {}, t("journal")), writes() ? journalForm(id) : null, journal);
  void loadJournal(id);
}

/** The operation as EMSI (what this viewer may see of it), saved as a file. */
async function exportEmsi(o: Operation, err: HTMLElement) {
  try {
    const doc = await call<unknown>("GET", `/operations/${encodeURIComponent(o.id)}.emsi`);
    const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: "application/json" }));
    const a = h("a", { href: url, download: `${o.code}.emsi.json` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (x) { showError(err, x); }
}

/** An operation's latest journal line, on the board. */
function lastLine(op: string) {
  const entries = state.journals.get(op);
  const e = entries?.[entries.length - 1];
  if (!e) return null;
  const what = e.text || (e.kind === "status_change" ? `${t(`ms_${e.details.from}`)} → ${t(`ms_${e.details.to}`)}` : t(`jk_${e.kind}`));
  return h("div.last", { "data-testid": "op-last-line" }, when(e.at), " ", chip(e.country), " ", h("span", { dir: "auto" }, what));
}

function journalItem(e: JournalEntry) {
  const d = e.details ?? {};
  const detail = e.kind === "status_change" ? `${t(`ms_${d.from}`)} → ${t(`ms_${d.to}`)}`
    : e.kind === "assignment" ? `${d.unit} → ${d.sector}` : e.kind === "report_link" ? `#${(d.report ?? "").slice(0, 8)}` : "";
  return h("li", { "data-testid": "journal-entry", "data-id": e.id, "data-kind": e.kind, "data-country": e.country },
    h("div.head", {}, when(e.at), " · ", chip(e.country), " ", h("b", { dir: "auto" }, e.author), " · ", t(`jk_${e.kind}`)),
    e.kind === "report_link" && d.report
      ? h("div.detail", {}, h("a", { href: `#report/${d.report}`, "data-testid": "journal-report", onclick: (ev: Event) => { ev.preventDefault(); reportSelected(d.report); } }, detail))
      : detail ? h("div.detail", { dir: "auto" }, detail) : null,
    e.text ? h("div.text", { dir: "auto" }, e.text) : null);
}

function journalForm(operation: string) {
  const me = state.node?.country ?? "";
  const o = state.operations.get(operation);
  // An assignment puts a unit of this country into a sector of this country (the node checks who may task it).
  const mySectors = (o?.sectors ?? []).filter((x) => x.country === me);
  const myUnits = [...state.units.values()].filter((u) => u.owner_country === me).sort((a, b) => a.callsign.localeCompare(b.callsign));
  const kinds = ["note", "decision", ...(mySectors.length && myUnits.length ? ["assignment"] : []), "report_link"];
  const kind = h("select", { name: "journal_kind", "aria-label": t("jk_kind"), "data-testid": "journal-kind" }, kinds.map((k) => h("option", { value: k }, t(`jk_${k}`))));
  const text = h("textarea", { name: "journal_text", rows: 2, dir: "auto", placeholder: t("journal_placeholder"), "aria-label": t("journal_placeholder"), "data-testid": "journal-text" });
  const report = h("input", { name: "journal_report", placeholder: t("journal_report"), "aria-label": t("journal_report"), dir: "ltr", hidden: true });
  const unit = h("select", { name: "journal_unit", "aria-label": t("unit") }, myUnits.map((u) => h("option", { value: u.id }, `${u.callsign} · ${u.name}`)));
  const sector = h("select", { name: "journal_sector", "aria-label": t("op_sector") }, mySectors.map((x) => h("option", { value: x.id }, x.name)));
  const assign = h("span.inline", { hidden: true }, unit, "→", sector);
  kind.addEventListener("change", () => { report.hidden = kind.value !== "report_link"; assign.hidden = kind.value !== "assignment"; });
  const err = h("p.error", { role: "alert", "data-testid": "journal-error" });
  const submit = h("button.ok", { type: "submit", "data-testid": "journal-submit" }, t("journal_write"));
  const form = h("form.journal-form", { "data-testid": "journal-form" }, kind, assign, text, report, h("div.actions", {}, submit), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const body: Record<string, unknown> = { kind: kind.value, text: text.value };
    if (kind.value === "report_link") body.details = { report: report.value.trim() };
    if (kind.value === "assignment") body.details = { unit: unit.value, sector: sector.value };
    submit.disabled = true;
    try {
      journalReceived(await post<JournalEntry>(`/operations/${operation}/journal`, body));
      text.value = ""; report.value = "";  // written: only now is the text let go
      // an assignment changes the sector's units in the operation's read model
      if (kind.value === "assignment") { try { operationChanged(await get("/operations/{operation_id}", { operation_id: operation }) as unknown as Operation); } catch { /* the next catch-up */ } }
    } catch (x) { showError(err, x); } finally { submit.disabled = false; }
  });
  text.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });
  return form;
}

// ---------- a checkpoint: status, reason, history, and the change of status
function renderCheckpoint(id: string) {
  const summary = h("div.op-summary", { "data-testid": "checkpoint-summary" });
  const fill = () => {
    const c = state.checkpoints.get(id);
    if (!c) return;
    summary.replaceChildren(
      h("p.op-title", {}, h("span", { class: `cp-dot cp-${c.status}` }), h("b", { dir: "auto" }, c.name), " ",
        h("span", { class: `cp-state cp-state-${c.status}`, "data-testid": "checkpoint-status" }, t(`cp_${c.status}`))),
      h("dl", {},
        row(t("reason"), h("span", { dir: "auto", "data-testid": "checkpoint-reason" }, c.reason || "—")),
        c.operator === "joint" ? row(t("cp_operator"), t("cp_joint")) : row(t("cp_operator"), chip(c.operator), " ", tx(c.operator)),
        row(t("cp_section"), free(state.sections.get(c.section)?.name ?? c.section)),
        row(t("op_units"), c.units.length ? c.units.join(", ") : "—"),
        row(t("updated"), when(c.updated_at))),
      h("h3", {}, t("cp_history")),
      h("ol.history", { "data-testid": "checkpoint-history", reversed: true }, [...c.history].reverse().map((x) => h("li", {},
        when(x.at), " · ", h("span", { class: `cp-state cp-state-${x.status}` }, t(`cp_${x.status}`)), " · ", free(x.by),
        x.reason ? [" — ", free(x.reason)] : null))));
  };
  refreshers.ops = fill;
  fill();
  const c = state.checkpoints.get(id);
  const status = h("select", { name: "cp_status", "aria-label": t("state"), "data-testid": "cp-status-select" },
    (["open", "closed", "reinforced"] as const).map((s) => h("option", { value: s, selected: s === c?.status }, t(`cp_${s}`))));
  const reason = h("input", { name: "cp_reason", dir: "auto", placeholder: t("cp_reason"), "aria-label": t("cp_reason"), "data-testid": "cp-reason" });
  const err = h("p.error", { role: "alert", "data-testid": "cp-error" });
  const submit = h("button.ok", { type: "submit", "data-testid": "cp-submit" }, t("cp_set"));
  const form = h("form.cp-form", { "data-testid": "cp-form" }, h("h3", {}, t("cp_change")), h("div.inline", {}, status, reason, submit), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    submit.disabled = true;
    try {
      checkpointChanged(await post<Checkpoint>(`/checkpoints/${id}/status`, { status: status.value, reason: reason.value }));
      reason.value = "";
    } catch (x) { showError(err, x); } finally { submit.disabled = false; }
  });
  frame(h("span", {}, back(), " ", t("checkpoint")), summary, writes() && c?.owner_country === state.node?.country ? form : null);
}

// ---------- a patrol: route, rendezvous, schedule, progress
function renderPatrol(id: string) {
  const summary = h("div.op-summary", { "data-testid": "patrol-summary" });
  const progress = h("div.progress", { "data-testid": "patrol-progress" });
  const fill = () => {
    const p = state.patrols.get(id);
    if (!p) return;
    const own = writes() && p.owner_country === state.node?.country;
    const err = h("p.error", { role: "alert" });
    summary.replaceChildren(...parts(
      h("p.op-title", {}, h("b", { dir: "auto" }, `${p.code} · ${p.name}`), " ", statusChip(p.status)),
      h("dl", {},
        row(t("patrol_schedule"), `${when(p.planned_start)} – ${when(p.planned_end)}`),
        row(t("patrol_countries"), ...p.countries.map(chip)),
        p.operation ? row(t("operation"), free(state.operations.get(p.operation)?.code ?? p.operation)) : null,
        row(t("op_units"), p.units.length ? p.units.join(", ") : "—")),
      h("h3", {}, t("patrol_route")),
      h("ol.route", {}, p.route.map((w) => h("li", { "data-kind": w.kind }, h("span", { class: `wp-dot wp-${w.kind}` }), free(w.name), ` · ${t(`wp_${w.kind}`)}`,
        w.kind === "rendezvous" ? [" · ", ...(w.countries ?? []).map(chip), w.at ? ` · ${when(w.at)}` : ""] : null,
        w.kind === "checkpoint" && w.checkpoint ? ` · ${state.checkpoints.get(w.checkpoint)?.name ?? w.checkpoint}` : null))),
      own && NEXT[p.status].length ? h("div.actions", {}, NEXT[p.status].map((s) => h("button", {
        class: s === "CANCLD" ? "danger" : "", onclick: async () => {
          try { patrolChanged(await patch<Patrol>(`/patrols/${p.id}`, { status: s })); } catch (x) { showError(err, x); }
        },
      }, t(s === "CANCLD" ? "pa_cancel" : `ms_to_${s}`)))) : null, err));
  };
  refreshers.ops = fill;
  fill();
  frame(h("span", {}, back(), " ", t("patrol")), summary, ...(PROGRESS_ROUTE ? [h("h3", {}, t("patrol_progress")), progress] : []));
  const fillProgress = () => {
    const pr = state.progress;
    if (!pr || pr.patrol !== id) { progress.replaceChildren(h("p.empty", {}, "…")); return; }
    progress.replaceChildren(
      h("ul", {}, pr.rendezvous.length ? pr.rendezvous.map((r) => h("li", { "data-testid": "rendezvous-state", "data-state": r.status },
        free(r.name), " · ", ...r.countries.map(chip), " ", h("span", { class: `rv rv-${r.status}` }, t(`rv_${r.status}`)),
        r.met_at ? ` · ${when(r.met_at)}` : r.at ? ` · ${t("planned")} ${when(r.at)}` : "")) : [h("li.empty", {}, t("none"))]),
      h("p.meta", {}, `${t("patrol_tracks")}: `, pr.tracks.length ? pr.tracks.map((x) => `${x.unit} (${num(x.fixes)})`).join(", ") : t("none")));
  };
  refreshers.progress = fillProgress;
  fillProgress();
  void loadProgress(id);
}

// ---------- drawing: the forms ask, the map draws, the finished shape comes back here
let drawnHandler: (() => void) | null = null;
const toRing = (pts: LatLon[]): Polygon => ({ type: "Polygon", coordinates: [[...pts, pts[0]].map((p) => [p.lon, p.lat])] });

/** The corners of every area and sector already known: a new shape can share them exactly. */
function knownCorners(): LatLon[] {
  const out: LatLon[] = [];
  for (const o of state.operations.values()) {
    for (const poly of [o.area, ...o.sectors.map((s) => s.polygon)]) for (const [lon, lat] of poly.coordinates[0].slice(0, -1)) out.push({ lat, lon });
  }
  return out;
}

/** A sector drawn near the area's edge, made to lie inside it exactly: a corner near an area corner
 *  becomes that corner; a corner near an edge (or just outside it) is put on the edge, and the same
 *  point is added to the area as a corner, so that the node's exact check (a corner on the
 *  boundary is inside) holds. `tol` is in degrees. */
export function fitToArea(sector: LatLon[], area: LatLon[], tol: number): { sector: LatLon[]; area: LatLon[] } {
  let ringPts = [...area];
  const out: LatLon[] = [];
  for (const v of sector) {
    const k = Math.cos((v.lat * Math.PI) / 180);
    const dist = (a: LatLon, b: LatLon) => Math.hypot((a.lon - b.lon) * k, a.lat - b.lat);
    const corner = ringPts.find((c) => dist(c, v) <= tol);
    if (corner) { out.push(corner); continue; }
    let best: { i: number; p: LatLon; d: number } | null = null;
    for (let i = 0; i < ringPts.length; i++) {
      const a = ringPts[i], b = ringPts[(i + 1) % ringPts.length];
      const ax = a.lon * k, ay = a.lat, bx = b.lon * k, by = b.lat, vx = v.lon * k, vy = v.lat;
      const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
      if (!len2) continue;
      const u = Math.max(0, Math.min(1, ((vx - ax) * (bx - ax) + (vy - ay) * (by - ay)) / len2));
      const p = { lat: a.lat + u * (b.lat - a.lat), lon: a.lon + u * (b.lon - a.lon) };
      const d = dist(p, v);
      if (!best || d < best.d) best = { i, p, d };
    }
    if (best && (best.d <= tol || !inside(v, ringPts))) {
      ringPts = [...ringPts.slice(0, best.i + 1), best.p, ...ringPts.slice(best.i + 1)];
      out.push(best.p);
    } else out.push(v);
  }
  return { sector: out, area: ringPts };
}
function inside(p: LatLon, ringPts: LatLon[]): boolean {
  let c = false;
  for (let i = 0, j = ringPts.length - 1; i < ringPts.length; j = i++) {
    const a = ringPts[i], b = ringPts[j];
    if ((a.lat > p.lat) !== (b.lat > p.lat) && p.lon < ((b.lon - a.lon) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lon) c = !c;
  }
  return c;
}
function spanOf(pts: LatLon[]): number {
  const lats = pts.map((p) => p.lat), lons = pts.map((p) => p.lon);
  return Math.hypot(Math.max(...lats) - Math.min(...lats), Math.max(...lons) - Math.min(...lons));
}

// ---------- a new operation: fields, then its area drawn, then its sectors each with a country
interface OpDraft { area: LatLon[] | null; sectors: { points: LatLon[] }[] }
let opDraft: OpDraft = { area: null, sectors: [] };

function renderNewOperation() {
  const me = state.node?.country ?? state.me?.country ?? "";
  const others = roster().filter((c) => c !== me);
  const code = h("input", { name: "op_code", required: true, dir: "ltr", "data-testid": "op-code" });
  const name = h("input", { name: "op_name", required: true, dir: "auto", "data-testid": "op-name" });
  const kind = h("select", { name: "op_kind" }, ["cordon_and_search", "joint_patrol_campaign", "checkpoint_surge", "other"].map((k) => h("option", { value: k }, tx(`ok_${k}`))));
  const partBoxes = others.map((c) => h("input", { type: "checkbox", name: `op_part_${c}`, value: c, "data-testid": `op-part-${c}` }));
  const phase = h("input", { name: "op_phase", dir: "auto", value: t("phase_default") });
  const local = (ms: number) => new Date(ms - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const start = h("input", { type: "datetime-local", name: "op_start", value: local(Date.now()) });
  const end = h("input", { type: "datetime-local", name: "op_end", value: local(Date.now() + 12 * 3600_000) });
  const commander = h("input", { name: "op_commander", dir: "ltr", value: state.me?.username ?? "" });
  const areaInfo = h("span.meta", { "data-testid": "op-area-info" });
  const drawArea = h("button", { type: "button", "data-testid": "op-draw-area", onclick: () => { opDraft = { area: null, sectors: [] }; sync(); drawStarted("polygon", "op-area", knownCorners()); } });
  const sectorList = h("ol.sector-drafts", { "data-testid": "sector-drafts" });
  const addSector = h("button", { type: "button", "data-testid": "op-draw-sector", onclick: () => {
    if (!opDraft.area) return;
    drawStarted("polygon", "op-sector", [...opDraft.area, ...opDraft.sectors.flatMap((s) => s.points)]);
  } }, "+ ", t("op_draw_sector"));
  const hint = h("p.hint", { "data-testid": "draw-hint" });
  const err = h("p.error", { role: "alert", "data-testid": "op-error" });
  const submit = h("button.ok", { type: "submit", "data-testid": "op-submit" }, t("op_create"));
  const participants = () => [me, ...partBoxes.filter((b) => b.checked).map((b) => b.value)];

  // Sector rows: their names and countries are inputs named by index, so a rebuild keeps them.
  const sectorRows = () => {
    const names = new Map([...sectorList.querySelectorAll<HTMLInputElement>("input[name^=sector_name_]")].map((e) => [e.name, e.value]));
    const countries = new Map([...sectorList.querySelectorAll<HTMLSelectElement>("select[name^=sector_country_]")].map((e) => [e.name, e.value]));
    sectorList.replaceChildren(...opDraft.sectors.map((s, i) => {
      const nm = h("input", { name: `sector_name_${i}`, dir: "auto", value: names.get(`sector_name_${i}`) ?? `${t("op_sector")} ${num(i + 1)}`, "aria-label": t("op_sector") });
      const ct = h("select", { name: `sector_country_${i}`, "aria-label": t("f_country"), onchange: () => sync() },
        participants().map((c) => h("option", { value: c, selected: c === (countries.get(`sector_country_${i}`) ?? me) }, `${c} · ${tx(c)}`)));
      nm.addEventListener("input", () => sync());
      return h("li", { "data-testid": "sector-draft" }, nm, ct, h("span.meta", {}, `${num(s.points.length)} ${t("corners")}`),
        h("button.ghost", { type: "button", "aria-label": t("remove"), onclick: () => { opDraft.sectors.splice(i, 1); sectorRows(); sync(); } }, "×"));
    }));
  };
  const sync = () => {
    const d = state.drawing;
    drawArea.textContent = opDraft.area ? t("op_redraw_area") : t("op_draw_area");
    areaInfo.textContent = opDraft.area ? `${num(opDraft.area.length)} ${t("corners")}` : t("op_no_area");
    addSector.disabled = !opDraft.area;
    hint.textContent = d && d.purpose.startsWith("op-") ? t(d.mode === "polygon" ? "draw_polygon_hint" : "draw_line_hint") : "";
    const countryOf = (i: number) => sectorList.querySelector<HTMLSelectElement>(`select[name=sector_country_${i}]`)?.value ?? me;
    const nameOf = (i: number) => sectorList.querySelector<HTMLInputElement>(`input[name=sector_name_${i}]`)?.value ?? "";
    previewSet(opDraft.area ? { polygons: [{ points: opDraft.area, country: null, label: "" },
      ...opDraft.sectors.map((s, i) => ({ points: s.points, country: countryOf(i), label: `${nameOf(i)} · ${countryOf(i)}` }))], line: null, marks: [] } : null);
  };
  for (const b of partBoxes) b.addEventListener("change", () => sectorRows());
  drawnHandler = () => {
    const d = state.drawn;
    sync();
    if (!d) return;
    if (d.purpose === "op-area") { opDraft = { area: d.points, sectors: [] }; drawnTaken(); sectorRows(); sync(); }
    else if (d.purpose === "op-sector" && opDraft.area) {
      const fitted = fitToArea(d.points, opDraft.area, spanOf(opDraft.area) * 0.02);
      opDraft.area = fitted.area;
      opDraft.sectors.push({ points: fitted.sector });
      drawnTaken(); sectorRows(); sync();
    }
  };
  const form = h("form.op-form", { "data-testid": "op-form" },
    h("div.grid2", {}, h("label", {}, t("op_code"), code), h("label", {}, t("op_name"), name)),
    h("label", {}, t("op_kind"), kind),
    h("fieldset", {}, h("legend", {}, t("op_participants")), h("label.check", {}, h("input", { type: "checkbox", checked: true, disabled: true }), ` ${me} · ${tx(me)}`),
      partBoxes.map((b) => h("label.check", {}, b, ` ${b.value} · ${tx(b.value)}`))),
    h("label", {}, t("op_phase"), phase),
    h("div.grid2", {}, h("label", {}, t("from"), start), h("label", {}, t("to"), end)),
    h("label", {}, t("op_commander"), commander),
    h("fieldset", {}, h("legend", {}, t("op_area")), h("div.inline", {}, drawArea, areaInfo)),
    h("fieldset", {}, h("legend", {}, t("op_sectors")), sectorList, addSector),
    hint, h("div.actions", {}, submit, h("button.ghost", { type: "button", onclick: () => { opDraft = { area: null, sectors: [] }; forget({ kind: "new-operation" }); opsViewed({ kind: "board" }); } }, t("cancel"))), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    if (!opDraft.area) { err.textContent = t("op_no_area"); drawArea.focus(); return; }
    const iso = (v: string) => new Date(v).toISOString();
    const body = {
      code: code.value.trim(), name: name.value.trim(), kind: kind.value, participants: participants(), area: toRing(opDraft.area),
      sectors: opDraft.sectors.map((s, i) => ({
        id: `s${i + 1}`, name: sectorList.querySelector<HTMLInputElement>(`input[name=sector_name_${i}]`)!.value.trim(),
        country: sectorList.querySelector<HTMLSelectElement>(`select[name=sector_country_${i}]`)!.value, polygon: toRing(s.points), units: [],
      })),
      phases: phase.value.trim() && start.value && end.value ? [{ name: phase.value.trim(), planned_start: iso(start.value), planned_end: iso(end.value) }] : [],
      command: commander.value.trim() ? { [me]: { commander: commander.value.trim(), deputy: null } } : {},
      units: [], reports: [],
    };
    submit.disabled = true;
    try {
      const o = await post<Operation>("/operations", body);
      operationChanged(o);
      opDraft = { area: null, sectors: [] };
      forget({ kind: "new-operation" });
      toast(t("op_created"));
      opsViewed({ kind: "operation", id: o.id });
    } catch (x) { showError(err, x); } finally { submit.disabled = false; }
  });
  frame(h("span", {}, back(), " ", t("op_new")), form);
  sectorRows(); sync();
  code.focus();
}

// ---------- a new patrol: fields, then its route drawn, then each corner a waypoint, rendezvous or checkpoint
let routeDraft: LatLon[] | null = null;

function renderNewPatrol() {
  const me = state.node?.country ?? state.me?.country ?? "";
  const others = roster().filter((c) => c !== me);
  const code = h("input", { name: "pa_code", required: true, dir: "ltr", "data-testid": "patrol-code" });
  const name = h("input", { name: "pa_name", required: true, dir: "auto", "data-testid": "patrol-name" });
  const countryBoxes = others.map((c) => h("input", { type: "checkbox", name: `pa_country_${c}`, value: c, "data-testid": `patrol-country-${c}` }));
  const local = (ms: number) => new Date(ms - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const start = h("input", { type: "datetime-local", name: "pa_start", value: local(Date.now() + 3600_000) });
  const end = h("input", { type: "datetime-local", name: "pa_end", value: local(Date.now() + 7 * 3600_000) });
  // this country's units (a partner's join from its own node); the node checks who may task them
  const unitBoxes = [...state.units.values()].filter((u) => u.owner_country === me).sort((a, b) => a.callsign.localeCompare(b.callsign))
    .map((u) => h("label.check", {}, h("input", { type: "checkbox", name: `pa_unit_${u.id}`, value: u.id, "data-testid": `patrol-unit-${u.id}` }), ` ${u.callsign} · ${u.name}`));
  const operation = h("select", { name: "pa_operation" }, h("option", { value: "" }, t("none")),
    [...state.operations.values()].filter((o) => !["COM", "CANCLD"].includes(o.status)).map((o) => h("option", { value: o.id }, `${o.code} · ${o.name}`)));
  const drawRoute = h("button", { type: "button", "data-testid": "patrol-draw-route", onclick: () => { routeDraft = null; wpRows(); sync(); drawStarted("line", "patrol-route", knownCorners()); } });
  const wpList = h("ol.waypoints", { "data-testid": "waypoint-drafts" });
  const hint = h("p.hint", { "data-testid": "draw-hint" });
  const err = h("p.error", { role: "alert", "data-testid": "patrol-error" });
  const submit = h("button.ok", { type: "submit", "data-testid": "patrol-submit" }, t("patrol_create"));
  const countries = () => [me, ...countryBoxes.filter((b) => b.checked).map((b) => b.value)];
  const field = <T extends HTMLElement>(n: string) => wpList.querySelector<T & { value: string }>(`[name=${n}]`);

  const wpRows = () => {
    const old = saveValues(wpList);
    wpList.replaceChildren(...(routeDraft ?? []).map((p, i) => {
      const kind = h("select", { name: `wp_kind_${i}`, "aria-label": t("wp_kind"), "data-testid": "wp-kind" },
        (["waypoint", "rendezvous", "checkpoint"] as const).map((k) => h("option", { value: k }, t(`wp_${k}`))));
      const nm = h("input", { name: `wp_name_${i}`, dir: "auto", value: `WP${i + 1}`, "aria-label": t("op_name") });
      const cs = countries();
      const c1 = h("select", { name: `wp_c1_${i}`, "aria-label": t("f_country") }, cs.map((c) => h("option", { value: c }, c)));
      const c2 = h("select", { name: `wp_c2_${i}`, "aria-label": t("f_country") }, cs.map((c, j) => h("option", { value: c, selected: j === 1 }, c)));
      const at = h("input", { type: "datetime-local", name: `wp_at_${i}`, "aria-label": t("time") });
      const cp = h("select", { name: `wp_cp_${i}`, "aria-label": t("checkpoint") }, [...state.checkpoints.values()].map((c) => h("option", { value: c.id }, c.name)));
      const rv = h("span.inline", { hidden: true }, c1, "⇄", c2, at);
      const cpBox = h("span.inline", { hidden: true }, cp);
      const show = () => { rv.hidden = kind.value !== "rendezvous"; cpBox.hidden = kind.value !== "checkpoint"; sync(); };
      kind.addEventListener("change", show);
      return h("li", { "data-testid": "wp-draft" }, h("span.meta", {}, `${num(p.lat, 4)}, ${num(p.lon, 4)}`), nm, kind, rv, cpBox);
    }));
    restoreValues(wpList, old);
  };
  const sync = () => {
    const d = state.drawing;
    drawRoute.textContent = routeDraft ? t("patrol_redraw_route") : t("patrol_draw_route");
    hint.textContent = d && d.purpose === "patrol-route" ? t("draw_line_hint") : "";
    previewSet(routeDraft ? {
      polygons: [], line: routeDraft,
      marks: routeDraft.map((p, i) => ({ at: p, kind: field<HTMLSelectElement>(`wp_kind_${i}`)?.value ?? "waypoint", label: num(i + 1) })),
    } : null);
  };
  for (const b of countryBoxes) b.addEventListener("change", () => wpRows());
  drawnHandler = () => {
    const d = state.drawn;
    sync();
    if (d?.purpose === "patrol-route") { routeDraft = d.points; drawnTaken(); wpRows(); sync(); }
  };
  const form = h("form.op-form", { "data-testid": "patrol-form" },
    h("div.grid2", {}, h("label", {}, t("op_code"), code), h("label", {}, t("op_name"), name)),
    h("fieldset", {}, h("legend", {}, t("patrol_countries")), h("label.check", {}, h("input", { type: "checkbox", checked: true, disabled: true }), ` ${me} · ${tx(me)}`),
      countryBoxes.map((b) => h("label.check", {}, b, ` ${b.value} · ${tx(b.value)}`))),
    h("div.grid2", {}, h("label", {}, t("from"), start), h("label", {}, t("to"), end)),
    h("label", {}, t("operation"), operation),
    unitBoxes.length ? h("fieldset.units", {}, h("legend", {}, t("op_units")), unitBoxes) : null,
    h("fieldset", {}, h("legend", {}, t("patrol_route")), drawRoute, wpList),
    hint, h("div.actions", {}, submit, h("button.ghost", { type: "button", onclick: () => { routeDraft = null; forget({ kind: "new-patrol" }); opsViewed({ kind: "board" }); } }, t("cancel"))), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    if (!routeDraft) { err.textContent = t("patrol_no_route"); drawRoute.focus(); return; }
    const route: Waypoint[] = routeDraft.map((p, i) => {
      const kind = field<HTMLSelectElement>(`wp_kind_${i}`)!.value as Waypoint["kind"];
      const w: Waypoint = { name: field<HTMLInputElement>(`wp_name_${i}`)!.value.trim(), lon: p.lon, lat: p.lat, kind };
      if (kind === "rendezvous") {
        w.countries = [field<HTMLSelectElement>(`wp_c1_${i}`)!.value, field<HTMLSelectElement>(`wp_c2_${i}`)!.value];
        const at = field<HTMLInputElement>(`wp_at_${i}`)!.value;
        w.at = at ? new Date(at).toISOString() : null;
      }
      if (kind === "checkpoint") w.checkpoint = field<HTMLSelectElement>(`wp_cp_${i}`)!.value;
      return w;
    });
    const body = {
      code: code.value.trim(), name: name.value.trim(), operation: operation.value || null, route,
      planned_start: new Date(start.value).toISOString(), planned_end: new Date(end.value).toISOString(), countries: countries(),
      units: unitBoxes.map((l) => l.querySelector("input")!).filter((i) => i.checked).map((i) => i.value),
    };
    submit.disabled = true;
    try {
      const p = await post<Patrol>("/patrols", body);
      patrolChanged(p);
      routeDraft = null;
      forget({ kind: "new-patrol" });
      toast(t("patrol_created"));
      opsViewed({ kind: "patrol", id: p.id });
    } catch (x) { showError(err, x); } finally { submit.disabled = false; }
  });
  frame(h("span", {}, back(), " ", t("patrol_new")), form);
  wpRows(); sync();
  code.focus();
}

// ---------- the lead changes an operation's sectors: replaced as a whole (PUT), checked together
interface SectorDraft { id: string; name: string; country: string; points: LatLon[]; units: string[] }
let sectorDrafts: { op: string; sectors: SectorDraft[] } | null = null;
const pointsOf = (p: Polygon): LatLon[] => p.coordinates[0].slice(0, -1).map(([lon, lat]) => ({ lat, lon }));

function renderSectorsEditor(id: string) {
  const o = state.operations.get(id);
  if (!o) return;
  if (sectorDrafts?.op !== id) sectorDrafts = { op: id, sectors: o.sectors.map((s) => ({ id: s.id, name: s.name, country: s.country, points: pointsOf(s.polygon),
    // the lead's own units of the sector (a country's assignments are its journal lines, kept apart)
    units: s.units.filter((u) => o.units.includes(u)) })) };
  const drafts = sectorDrafts;
  const area = pointsOf(o.area);
  const list = h("ol.sector-drafts", { "data-testid": "sector-drafts" });
  const hint = h("p.hint", { "data-testid": "draw-hint" });
  const err = h("p.error", { role: "alert", "data-testid": "sectors-error" });
  const save = h("button.ok", { type: "submit", "data-testid": "sectors-save" }, t("op_save_sectors"));
  const rows = () => list.replaceChildren(...drafts.sectors.map((s, i) => {
    const nm = h("input", { name: `sector_name_${i}`, dir: "auto", value: s.name, "aria-label": t("op_sector"), oninput: (e: Event) => { s.name = (e.target as HTMLInputElement).value; sync(); } });
    const ct = h("select", { name: `sector_country_${i}`, "aria-label": t("f_country"), onchange: (e: Event) => { s.country = (e.target as HTMLSelectElement).value; sync(); } },
      o.participants.map((c) => h("option", { value: c, selected: c === s.country }, `${c} · ${tx(c)}`)));
    return h("li", { "data-testid": "sector-draft" }, nm, ct, h("span.meta", {}, `${num(s.points.length)} ${t("corners")}`),
      h("button.ghost", { type: "button", "aria-label": t("remove"), onclick: () => { drafts.sectors.splice(i, 1); rows(); sync(); } }, "×"));
  }));
  const sync = () => {
    hint.textContent = state.drawing?.purpose === "sectors" ? t("draw_polygon_hint") : "";
    previewSet({ polygons: [{ points: area, country: null, label: "" }, ...drafts.sectors.map((s) => ({ points: s.points, country: s.country, label: `${s.name} · ${s.country}` }))], line: null, marks: [] });
  };
  drawnHandler = () => {
    const d = state.drawn;
    sync();
    if (d?.purpose !== "sectors") return;
    const used = new Set(drafts.sectors.map((s) => s.id));
    let n = drafts.sectors.length + 1;
    while (used.has(`s${n}`)) n++;
    const mine = state.node?.country ?? o.lead_country;
    drafts.sectors.push({ id: `s${n}`, name: `${t("op_sector")} ${num(n)}`, country: o.participants.includes(mine) ? mine : o.participants[0], points: d.points, units: [] });
    drawnTaken(); rows(); sync();
  };
  const draw = h("button", { type: "button", "data-testid": "sectors-draw", onclick: () => drawStarted("polygon", "sectors", [...area, ...drafts.sectors.flatMap((s) => s.points)]) }, "+ ", t("op_draw_sector"));
  const form = h("form.op-form", { "data-testid": "sectors-form" }, list, draw, hint, h("div.actions", {}, save,
    h("button.ghost", { type: "button", onclick: () => { sectorDrafts = null; forget({ kind: "sectors", id }); opsViewed({ kind: "operation", id }); } }, t("cancel"))), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    save.disabled = true;
    try {
      await put("/operations/" + encodeURIComponent(id) + "/sectors", { sectors: drafts.sectors.map((s) => ({ id: s.id, name: s.name.trim(), country: s.country, polygon: toRing(s.points), units: s.units })) });
      operationChanged(await get("/operations/{operation_id}", { operation_id: id }) as unknown as Operation);
      sectorDrafts = null;
      forget({ kind: "sectors", id });
      opsViewed({ kind: "operation", id });
    } catch (x) { showError(err, x); } finally { save.disabled = false; }
  });
  frame(h("span", {}, h("button.ghost", { onclick: () => opsViewed({ kind: "operation", id }) }, lang === "ar" ? "→ " : "← ", o.code), " ", t("op_sectors")), form);
  rows(); sync();
}

// ---------- a new checkpoint: a point picked on the map, its border section, who mans it
let cpPoint: LatLon | null = null;

/** The border section whose strip holds the point (a section drawn as a line: none). */
function sectionAt(p: LatLon): string | null {
  for (const s of state.sections.values()) {
    const g = s.geometry as { type?: string; coordinates?: number[][][] } | null;
    if (g?.type === "Polygon" && g.coordinates && inside(p, g.coordinates[0].map(([lon, lat]) => ({ lat, lon })))) return s.id;
  }
  return null;
}

function renderNewCheckpoint() {
  const me = state.node?.country ?? state.me?.country ?? "";
  const others = roster().filter((c) => c !== me);
  const name = h("input", { name: "cp_name", required: true, dir: "auto", "data-testid": "cp-name" });
  const section = h("select", { name: "cp_section", "aria-label": t("cp_section"), "data-testid": "cp-section" },
    [...state.sections.values()].sort((a, b) => a.id.localeCompare(b.id)).map((s) => h("option", { value: s.id }, `${s.id} · ${s.name}`)));
  const operator = h("select", { name: "cp_operator", "data-testid": "cp-operator" }, [me, ...others].map((c) => h("option", { value: c }, `${c} · ${tx(c)}`)),
    h("option", { value: "joint" }, t("cp_joint")));
  const partnerBoxes = others.map((c) => h("input", { type: "checkbox", name: `cp_partner_${c}`, value: c, "data-testid": `cp-partner-${c}` }));
  const status = h("select", { name: "cp_new_status" }, (["open", "closed", "reinforced"] as const).map((x) => h("option", { value: x }, t(`cp_${x}`))));
  const reason = h("input", { name: "cp_new_reason", dir: "auto", placeholder: t("cp_reason"), "aria-label": t("cp_reason") });
  const where = h("span.meta", { "data-testid": "cp-point" });
  const pick = h("button", { type: "button", "data-testid": "cp-pick", onclick: () => drawStarted("point", "cp-point") }, t("cp_pick"));
  const hint = h("p.hint", { "data-testid": "draw-hint" });
  const err = h("p.error", { role: "alert", "data-testid": "cp-new-error" });
  const submit = h("button.ok", { type: "submit", "data-testid": "cp-create" }, t("cp_create"));
  const sync = () => {
    where.textContent = cpPoint ? `${num(cpPoint.lat, 5)}, ${num(cpPoint.lon, 5)}` : t("cp_no_point");
    hint.textContent = state.drawing?.purpose === "cp-point" ? t("cp_pick_hint") : "";
    previewSet(cpPoint ? { polygons: [], line: null, marks: [{ at: cpPoint, kind: "checkpoint", label: "" }] } : null);
  };
  drawnHandler = () => {
    const d = state.drawn;
    sync();
    if (d?.purpose !== "cp-point") return;
    cpPoint = d.points[0];
    drawnTaken();
    const s = sectionAt(cpPoint);
    if (s) section.value = s;
    sync();
  };
  const form = h("form.op-form", { "data-testid": "cp-new-form" },
    h("label", {}, t("op_name"), name),
    h("div.inline", {}, pick, where),
    h("label", {}, t("cp_section"), section),
    h("label", {}, t("cp_operator"), operator),
    h("fieldset", {}, h("legend", {}, t("cp_partners")), partnerBoxes.map((b) => h("label.check", {}, b, ` ${b.value} · ${tx(b.value)}`))),
    h("div.grid2", {}, h("label", {}, t("state"), status), h("label", {}, t("reason"), reason)),
    hint, h("div.actions", {}, submit, h("button.ghost", { type: "button", onclick: () => { cpPoint = null; forget({ kind: "new-checkpoint" }); opsViewed({ kind: "board" }); } }, t("cancel"))), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    if (!cpPoint) { err.textContent = t("cp_no_point"); pick.focus(); return; }
    const body = {
      name: name.value.trim(), location: { lat: cpPoint.lat, lon: cpPoint.lon }, section: section.value, operator: operator.value,
      partners: partnerBoxes.filter((b) => b.checked).map((b) => b.value), status: status.value, reason: reason.value,
    };
    submit.disabled = true;
    try {
      const c = await post<Checkpoint>("/checkpoints", body);
      checkpointChanged(c);
      cpPoint = null;
      forget({ kind: "new-checkpoint" });
      toast(t("cp_created"));
      opsViewed({ kind: "checkpoint", id: c.id });
    } catch (x) { showError(err, x); } finally { submit.disabled = false; }
  });
  frame(h("span", {}, back(), " ", t("cp_new")), form);
  sync();
  name.focus();
}

/** Escape while drawing ends the drawing, not the form. */
export function cancelDrawing() { drawCancelled(); }
