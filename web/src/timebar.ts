// The time bar: the window presets, a custom window, and playback of the last 24 h.
import { $, h } from "./dom";
import { onLanguage, t, when } from "./i18n";
import { HOUR, playbackAt, playbackStopped, presetChosen, state, subscribe, type Preset } from "./store";

let playTimer: number | undefined;

export function initTimebar() {
  subscribe(["session"], renderTimebar);
  onLanguage(renderTimebar);
  subscribe(["query", "view"], syncTimebar);
}

export function choosePreset(p: Preset, custom?: { from: number; to: number }) {
  window.clearTimeout(playTimer);
  playTimer = undefined;
  presetChosen(p, custom);
}

export function togglePlay() {
  if (state.playAt !== null && playTimer) stopPlay(); else startPlay();
}

function startPlay() {
  window.clearTimeout(playTimer);
  playbackAt(Date.now() - 24 * HOUR + state.playSpan);
  const step = () => {
    if (state.playAt === null) return;
    const at = state.playAt + 10 * 60_000; // ten minutes of the day per tick
    if (at >= Date.now()) { stopPlay(); return; }
    playbackAt(at);
    playTimer = window.setTimeout(step, 150);
  };
  playTimer = window.setTimeout(step, 300);
}
function stopPlay() {
  window.clearTimeout(playTimer);
  playTimer = undefined;
  playbackStopped();
}

function renderTimebar() {
  const presets = (["6h", "24h", "7d"] as const).map((p, i) => h("button", { onclick: () => choosePreset(p), title: String(i + 1), "data-preset": p }, t(p === "6h" ? "last6h" : p === "24h" ? "last24h" : "last7d")));
  const toLocal = (ms: number) => new Date(ms - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const from = h("input", { type: "datetime-local", value: toLocal(state.customFrom || Date.now() - 48 * HOUR), "aria-label": t("from") });
  const to = h("input", { type: "datetime-local", value: toLocal(state.customTo || Date.now()), "aria-label": t("to") });
  const custom = h("span.custom", {}, h("button", { "data-preset": "custom", onclick: () => choosePreset("custom", { from: Date.parse(from.value), to: Date.parse(to.value) }) }, t("custom")), from, "–", to);
  const slider = h("input", { type: "range", id: "slider", min: 0, max: 24 * 60, step: 10, value: 24 * 60, "aria-label": t("playback"), "data-testid": "slider" });
  slider.addEventListener("input", () => {
    window.clearTimeout(playTimer);
    playTimer = undefined;
    playbackAt(Date.now() - 24 * HOUR + Number(slider.value) * 60_000);
  });
  const play = h("button.play", { id: "play", onclick: togglePlay, "aria-keyshortcuts": "p", title: "p", "data-testid": "play" });
  $("#timebar").replaceChildren(h("div.presets", { role: "group" }, presets), custom, play, slider, h("span", { id: "slider-label" }));
  syncTimebar();
}

/** The bar as the window is, in place (a slider being dragged stays the same element). */
function syncTimebar() {
  const bar = document.getElementById("timebar");
  if (!bar) return;
  const playing = state.playAt !== null;
  for (const b of bar.querySelectorAll<HTMLButtonElement>("button[data-preset]")) {
    const p = b.dataset.preset;
    b.className = state.preset === p && (!playing || p === "custom") ? "on" : "";
    if (p !== "custom") b.setAttribute("aria-pressed", String(state.preset === p));
  }
  const play = document.getElementById("play");
  if (play) play.textContent = playing ? `⏸ ${t("pause")}` : `▶ ${t("play")}`;
  const s = document.getElementById("slider") as HTMLInputElement | null;
  const lbl = document.getElementById("slider-label");
  if (state.playAt === null) {
    if (s && document.activeElement !== s) s.value = String(24 * 60);
    if (lbl) lbl.textContent = t("live");
    return;
  }
  if (s) s.value = String(Math.round((state.playAt - (Date.now() - 24 * HOUR)) / 60_000));
  if (lbl) lbl.textContent = `${when(new Date(state.playAt - state.playSpan).toISOString())} – ${when(new Date(state.playAt).toISOString())}`;
}
