// A tiny DOM helper: h("div.cls", {attr}, ...children).
type Child = Node | string | number | null | undefined | false;
export function h<K extends keyof HTMLElementTagNameMap>(tag: K | `${K}.${string}`, attrs: Record<string, unknown> = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name as K);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    // never from markup: no inline style (the CSP refuses it) and no handler given as text
    else if (k === "style" || k.startsWith("on")) throw new Error(`h(): attribute ${k} is not allowed`);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value" || k === "checked" || k === "selected" || k === "disabled") (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(typeof c === "number" ? String(c) : c);
  return el;
}
export const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector(sel) as T;

let toastBox: HTMLElement | null = null;
export function toast(text: string, kind: "info" | "error" = "info", ms = 4000) {
  if (!toastBox) { toastBox = h("div.toasts", { role: "status", "aria-live": "polite" }); document.body.append(toastBox); }
  const el = h("div.toast", { class: `toast ${kind}` }, text);
  toastBox.append(el);
  setTimeout(() => el.remove(), ms);
}

/** `f`, run once on the next frame however often this is called before it. A timer as well as an
 *  animation frame: a hidden or unfocused window gets no animation frames. */
export function batched(f: () => void): () => void {
  let pending = false;
  const run = () => { if (!pending) return; pending = false; f(); };
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(run);
    setTimeout(run, 120);
  };
}
