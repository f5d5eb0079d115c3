// The live feed: a websocket that pushes what this viewer may see, straight into the store;
// reconnects with backoff, and catches up (sync.ts) when it answers.
import {
  session, unauthorized, type ChatMessage, type Checkpoint, type FieldAlert, type JournalEntry, type Operation, type Patrol, type Report,
  type Section, type Unit,
} from "./api";
import {
  chatReceived, checkpointChanged, fieldAlertChanged, journalReceived, liveChanged, operationChanged, patrolChanged, raiseAlert, reportRemoved,
  reportsReceived, sectionChanged, unitChanged, type Alert,
} from "./store";
import { catchUp, refreshOperation } from "./sync";

let ws: WebSocket | null = null;
let stopped = false;
let attempt = 0;
let timer: number | undefined;
let everConnected = false;

export function startLive() {
  stopped = false;
  const connect = () => {
    if (stopped || !session.token) return;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`;
    let hello = false;
    try { ws = new WebSocket(url); } catch { schedule(); return; }
    ws.onopen = () => ws!.send(JSON.stringify({ type: "auth", token: session.token }));
    ws.onmessage = (ev) => {
      let m: { type: string; [k: string]: unknown };
      try { m = JSON.parse(ev.data); } catch { return; }
      switch (m.type) {
        case "hello": {
          hello = true; attempt = 0;
          // The first time only what changed since the page loaded (the gap before the feed
          // answered); after a drop the whole picture, so that what was removed meanwhile goes.
          const need = everConnected ? "all" : "changes";
          everConnected = true;
          liveChanged("live");
          void catchUp(need);
          break;
        }
        case "report": reportsReceived([m.report as Report], { pushed: true }); break;
        case "report.removed": reportRemoved(m.id as string); break;
        case "unit": unitChanged(m.unit as Unit); break;
        case "section": sectionChanged(m.section as Section); break;
        case "alert": raiseAlert(m.alert as Alert); break;
        case "field_alert": fieldAlertChanged(m.alert as FieldAlert); break;
        case "chat": chatReceived(m.message as ChatMessage); break;
        // issue 12: each kind's document under its own name (a purge comes as report.removed, by id)
        case "operation": operationChanged(m.operation as Operation); void refreshOperation((m.operation as Operation).id); break;
        case "journal": {
          const e = (m.entry ?? m.journal) as JournalEntry;
          journalReceived(e);
          if (e.kind === "assignment") void refreshOperation(e.operation);  // a sector's units changed
          break;
        }
        case "patrol": patrolChanged(m.patrol as Patrol); break;
        case "checkpoint": checkpointChanged(m.checkpoint as Checkpoint); break;
        case "operation.removed": case "patrol.removed": case "checkpoint.removed": case "journal.removed": reportRemoved(m.id as string); break;
        case "ping": ws?.send(JSON.stringify({ type: "pong" })); break;
      }
    };
    ws.onclose = (ev) => {
      ws = null;
      if (stopped) return;
      // 4401: the token was refused or the session ended (logout, password changed, account
      // disabled, expired): reconnecting cannot help, log in again.
      if (ev.code === 4401) { unauthorized(); return; }
      liveChanged(everConnected || hello ? "offline" : "unavailable");
      schedule();
    };
    ws.onerror = () => { /* onclose follows */ };
  };
  const schedule = () => {
    attempt++;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)) * (0.75 + Math.random() / 2);
    timer = window.setTimeout(connect, delay);
  };
  connect();
}

export function stopLive() {
  stopped = true;
  window.clearTimeout(timer);
  ws?.close();
  ws = null;
}
