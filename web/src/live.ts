// The live feed: a websocket that pushes what this viewer may see; reconnects with backoff and
// catches up with `updated_since` after a drop.
import { allReports, session, unauthorized, type ChatMessage, type FieldAlert, type Report, type Section, type Unit } from "./api";
import { state } from "./store";

export interface Alert { report_id: string; by: string; at: string; note: string; report?: Report }
export interface LiveHandlers {
  report(r: Report): void; removed(id: string): void; unit(u: Unit): void; section(s: Section): void;
  alert(a: Alert): void; fieldAlert(a: FieldAlert): void; chat(m: ChatMessage): void; status(s: "live" | "offline" | "unavailable"): void;
  /** After a reconnect: reload the picture, so that what was removed meanwhile disappears. */
  resync(): void;
}

let ws: WebSocket | null = null;
let stopped = false;
let attempt = 0;
let timer: number | undefined;
let everConnected = false;

export function startLive(h: LiveHandlers) {
  stopped = false;
  const connect = () => {
    if (stopped || !session.token) return;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`;
    let hello = false;
    const since = state.lastUpdate;
    try { ws = new WebSocket(url); } catch { schedule(); return; }
    ws.onopen = () => ws!.send(JSON.stringify({ type: "auth", token: session.token }));
    ws.onmessage = (ev) => {
      let m: { type: string; [k: string]: unknown };
      try { m = JSON.parse(ev.data); } catch { return; }
      switch (m.type) {
        case "hello":
          hello = true; everConnected = true; attempt = 0; h.status("live");
          if (since) { void catchUp(since, h); h.resync(); }
          break;
        case "report": h.report(m.report as Report); break;
        case "report.removed": h.removed(m.id as string); break;
        case "unit": h.unit(m.unit as Unit); break;
        case "section": h.section(m.section as Section); break;
        case "alert": h.alert(m.alert as Alert); break;
        case "field_alert": h.fieldAlert(m.alert as FieldAlert); break;
        case "chat": h.chat(m.message as ChatMessage); break;
        case "ping": ws?.send(JSON.stringify({ type: "pong" })); break;
      }
    };
    ws.onclose = (ev) => {
      ws = null;
      if (stopped) return;
      // 4401: the token was refused or the session ended (logout, password changed, account
      // disabled, expired): reconnecting cannot help, log in again.
      if (ev.code === 4401) { unauthorized(); return; }
      h.status(everConnected || hello ? "offline" : "unavailable");
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

async function catchUp(since: string, h: LiveHandlers) {
  // A little overlap: an entry committed while the socket was down may carry a slightly older stamp.
  const from = new Date(Date.parse(since) - 5000).toISOString();
  try {
    for (const r of await allReports(new URLSearchParams({ updated_since: from }), 2000, 20_000)) h.report(r);
  } catch { /* next reconnect tries again */ }
}

export function stopLive() {
  stopped = true;
  window.clearTimeout(timer);
  ws?.close();
  ws = null;
}
