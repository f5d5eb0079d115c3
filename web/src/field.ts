// What field devices raised and said: active TAK alerts (911, troops in contact) as a red list
// and red markers on the map, and the GeoChat feed. The node sends only what this viewer may see.
import L from "leaflet";
import { forward as toMgrs } from "mgrs";
import { get, type ChatMessage, type FieldAlert } from "./api";
import { $, h } from "./dom";
import { num, t, when } from "./i18n";
import { mapInstance } from "./mapview";
import { nodeIcon, tooltip } from "./safe";

const alerts = new Map<string, FieldAlert>();
let chat: ChatMessage[] = [];
const CHAT_KEEP = 200;
const markers = L.layerGroup();
let unread = 0;

/** The active alerts and the latest messages, from the API (at start and after a reconnect). */
export async function loadField() {
  try {
    const [a, c] = await Promise.all([get<{ items: FieldAlert[] }>("/alerts"), get<{ items: ChatMessage[] }>(`/chat?limit=${CHAT_KEEP}`)]);
    alerts.clear();
    for (const x of a.items) alerts.set(x.uid, x);
    const known = new Set(chat.map((m) => m.id));
    if (chat.length && !feedOpen()) unread += c.items.filter((m) => !known.has(m.id)).length;  // missed while offline
    chat = c.items;
  } catch { /* an optional layer: the report picture works without it */ }
  renderField();
}

export function fieldAlert(a: FieldAlert) {
  if (a.state === "cancelled") alerts.delete(a.uid); else alerts.set(a.uid, a);
  renderAlerts();
}

export function chatMessage(m: ChatMessage) {
  if (chat.some((x) => x.id === m.id)) return;
  chat = [m, ...chat].slice(0, CHAT_KEEP);
  if (!feedOpen()) unread++;
  renderFeed();
  renderChatButton();
}

export function renderField() { renderAlerts(); renderFeed(); renderChatButton(); }

function place(p: { lat: number; lon: number }): string {
  let grid = "";
  try { grid = toMgrs([p.lon, p.lat], 4); } catch { /* out of the MGRS zones */ }
  return `${num(p.lat, 4)}, ${num(p.lon, 4)}${grid ? ` · ${grid}` : ""}`;
}

function centre(p: { lat: number; lon: number }) {
  mapInstance()?.setView([p.lat, p.lon], Math.max(mapInstance().getZoom(), 13));
}

const kindLabel = (kind: string) => { const k = `ak_${kind}`; const s = t(k); return s === k ? kind : s; };

// ---- alerts: newest first, urgent red, click centres the map
function renderAlerts() {
  const box = document.getElementById("field-alerts");
  const map = mapInstance();
  if (!box || !map) return;
  if (!map.hasLayer(markers)) markers.addTo(map);
  markers.clearLayers();
  const list = [...alerts.values()].sort((a, b) => (a.at < b.at ? 1 : -1));
  box.replaceChildren(...list.map((a) => h("div.field-alert", {
    "data-testid": "field-alert", "data-uid": a.uid, role: "button", tabindex: 0, title: t("show_on_map"),
    onclick: () => centre(a.position), onkeydown: (e: KeyboardEvent) => { if (e.key === "Enter") centre(a.position); },
  }, h("b", {}, `⚠ ${kindLabel(a.kind)}`), " ", h("span.callsign", { dir: "auto" }, a.callsign || a.raised_by),
    h("span.meta", {}, ` · ${when(a.at)} · ${place(a.position)} · ${a.owner_agency}`),
    a.text ? h("span.note", { dir: "auto" }, ` — ${a.text}`) : null)));
  box.hidden = list.length === 0;
  for (const a of list) {
    const icon = nodeIcon({ className: "field-alert-marker", html: h("span", { "data-uid": a.uid }, "!"), iconSize: [26, 26] });
    const m = L.marker([a.position.lat, a.position.lon], { icon, zIndexOffset: 2000, keyboard: false, title: `${kindLabel(a.kind)} · ${a.callsign}` });
    tooltip(m, () => h("div", { "data-testid": "alert-tip" }, h("b", {}, kindLabel(a.kind)), h("br"), a.callsign || a.raised_by, " · ", when(a.at), a.text ? h("div", { dir: "auto" }, a.text) : null));
    markers.addLayer(m);
  }
}

// ---- the chat feed: a panel beside the map, newest first
export const feedOpen = () => !($("#feed")?.hidden ?? true);

export function toggleFeed(show?: boolean) {
  const el = $("#feed");
  if (!el) return;
  el.hidden = show === undefined ? !el.hidden : !show;
  if (!el.hidden) unread = 0;
  renderFeed();
  renderChatButton();
}

/** The top bar's button that opens the feed, with the count of messages not yet seen. */
export function chatButton() {
  const b = h("button", { id: "chat-button", onclick: () => toggleFeed(), "aria-keyshortcuts": "c", title: "c", "data-testid": "chat-button" });
  fillChatButton(b);
  return b;
}

function renderChatButton() {
  const b = document.getElementById("chat-button");
  if (b) fillChatButton(b);
}

function fillChatButton(b: HTMLElement) {
  b.replaceChildren(t("field_chat"), unread ? h("span.count", { "data-testid": "chat-unread" }, num(unread)) : "");
}

function renderFeed() {
  const el = document.getElementById("feed");
  if (!el || el.hidden) return;
  el.replaceChildren(
    h("header", {}, h("h2", {}, t("field_chat")), h("button.ghost", { onclick: () => toggleFeed(false), "aria-label": t("close") }, "×")),
    chat.length ? h("ol.messages", {}, chat.map((m) => h("li", { "data-testid": "chat-message", "data-id": m.id },
      h("div.head", {}, h("b", { dir: "auto" }, m.callsign || m.author), " · ", h("span.room", { dir: "auto" }, m.room), " · ", when(m.at),
        h("button.ghost", { onclick: () => centre(m.position), title: t("show_on_map"), "aria-label": t("show_on_map") }, "⌖")),
      h("div.text", { dir: "auto" }, m.text)))) : h("p.empty", {}, t("chat_empty")));
}
