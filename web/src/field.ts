// What field devices raised and said: active TAK alerts (911, troops in contact) as a red list
// (their markers are the map's), and the GeoChat feed. The node sends only what this viewer may see.
import { forward as toMgrs } from "mgrs";
import { $, h } from "./dom";
import { alertKind, num, t, when } from "./i18n";
import { feedToggled, focusRequested, state, subscribe } from "./store";

export function initField() {
  subscribe(["field"], () => renderAlerts());
  subscribe(["chat"], () => { renderFeed(); renderChatButton(); });
}

export function renderField() { renderAlerts(); renderFeed(); renderChatButton(); }

function place(p: { lat: number; lon: number }): string {
  let grid = "";
  try { grid = toMgrs([p.lon, p.lat], 4); } catch { /* out of the MGRS zones */ }
  return `${num(p.lat, 4)}, ${num(p.lon, 4)}${grid ? ` · ${grid}` : ""}`;
}

const centre = (p: { lat: number; lon: number }) => focusRequested(p, 13);

// ---- alerts: newest first, urgent red, click centres the map
function renderAlerts() {
  const box = document.getElementById("field-alerts");
  if (!box) return;
  const list = [...state.fieldAlerts.values()].sort((a, b) => (a.at < b.at ? 1 : -1));
  box.replaceChildren(...list.map((a) => h("div.field-alert", {
    "data-testid": "field-alert", "data-uid": a.uid, role: "button", tabindex: 0, title: t("show_on_map"),
    onclick: () => centre(a.position), onkeydown: (e: KeyboardEvent) => { if (e.key === "Enter") centre(a.position); },
  }, h("b", {}, `⚠ ${alertKind(a.kind)}`), " ", h("span.callsign", { dir: "auto" }, a.callsign || a.raised_by),
    h("span.meta", {}, ` · ${when(a.at)} · ${place(a.position)} · ${a.owner_agency}`),
    a.text ? h("span.note", { dir: "auto" }, ` — ${a.text}`) : null)));
  box.hidden = list.length === 0;
}

// ---- the chat feed: a panel beside the map, newest first

/** The top bar's button that opens the feed, with the count of messages not yet seen. */
export function chatButton() {
  const b = h("button", { id: "chat-button", onclick: () => feedToggled(), "aria-keyshortcuts": "c", title: "c", "data-testid": "chat-button" });
  fillChatButton(b);
  return b;
}

function renderChatButton() {
  const b = document.getElementById("chat-button");
  if (b) fillChatButton(b);
}

function fillChatButton(b: HTMLElement) {
  b.replaceChildren(t("field_chat"), state.unread ? h("span.count", { "data-testid": "chat-unread" }, num(state.unread)) : "");
}

function renderFeed() {
  const el = $("#feed");
  if (!el) return;
  el.hidden = !state.feedOpen;
  if (el.hidden) return;
  const chat = state.chat;
  el.replaceChildren(
    h("header", {}, h("h2", {}, t("field_chat")), h("button.ghost", { onclick: () => feedToggled(false), "aria-label": t("close") }, "×")),
    chat.length ? h("ol.messages", {}, chat.map((m) => h("li", { "data-testid": "chat-message", "data-id": m.id },
      h("div.head", {}, h("b", { dir: "auto" }, m.callsign || m.author), " · ", h("span.room", { dir: "auto" }, m.room), " · ", when(m.at),
        h("button.ghost", { onclick: () => centre(m.position), title: t("show_on_map"), "aria-label": t("show_on_map") }, "⌖")),
      h("div.text", { dir: "auto" }, m.text)))) : h("p.empty", {}, t("chat_empty")));
}
