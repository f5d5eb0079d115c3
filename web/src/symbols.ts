// APP-6 / MIL-STD-2525C symbols (milsymbol), drawn once per kind and cached as images.
import ms from "milsymbol";
import L from "leaflet";

export type Affiliation = "hostile" | "suspect" | "unknown" | "friend";

// Letter SIDCs (2525C): hostile for armed groups and attacks, suspect/unknown for crime and crossings.
const REPORT_SIDC: Record<string, string> = {
  armed_group_sighting: "SHGPUCI-----",
  armed_group_movement: "SHGPUCIM----",
  clash: "OHVPS-------",
  attack_on_post: "OHVPD-------",
  explosive_device: "OHVPEI------",
  smuggling_weapons: "SSGPEWRR----",
  smuggling_fuel: "SSGPEVC-----",
  smuggling_drugs: "SSGPEVC-----",
  smuggling_goods: "SSGPEVC-----",
  illegal_crossing: "SUGPU-------",
  suspicious_vehicle: "SSGPEVC-----",
  other: "SUGP--------",
  seizure: "OFOPH-------",
  arrest: "OFOPA-------",
};
const REPORT_TEXT: Record<string, string> = {
  smuggling_fuel: "FUEL", smuggling_drugs: "DRUG", smuggling_goods: "GOODS", suspicious_vehicle: "VEH",
};
const UNIT_SIDC: Record<string, string> = {
  patrol: "SFGPUCR-----",
  checkpoint: "SFGPUUM-----",
  observation_post: "SFGPUCRVO---",
  rapid_intervention: "SFGPUCIZ----",
  hq: "SFGPUCI---A-",
};

export function affiliationOf(type: string): Affiliation {
  const c = (REPORT_SIDC[type] ?? "SUGP")[1];
  return c === "H" ? "hostile" : c === "S" ? "suspect" : c === "F" ? "friend" : "unknown";
}

const cache = new Map<string, L.Icon>();
const SIZE = 22;

function badge(ctx: CanvasRenderingContext2D, text: string, x: number, y: number, fill: string) {
  ctx.font = "bold 10px system-ui, sans-serif";
  const w = ctx.measureText(text).width + 6;
  ctx.fillStyle = fill;
  ctx.fillRect(x - w, y, w, 13);
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x - w + 3, y + 10);
}

function draw(sidc: string, opts: Record<string, unknown>, partner: string | null, urgent: boolean, cls: string): L.Icon {
  const sym = new ms.Symbol(sidc, { size: SIZE, ...opts });
  const src = sym.asCanvas(window.devicePixelRatio > 1 ? 2 : 1);
  const scale = window.devicePixelRatio > 1 ? 2 : 1;
  const pad = partner || urgent ? 14 * scale : 0;
  const canvas = document.createElement("canvas");
  canvas.width = src.width + pad * 2;
  canvas.height = src.height + pad;
  const ctx = canvas.getContext("2d")!;
  ctx.drawImage(src, pad, pad);
  ctx.scale(scale, scale);
  if (partner) badge(ctx, partner, canvas.width / scale, 0, "#5a3ea8");
  if (urgent) badge(ctx, "!", 14, 0, "#d11");
  const a = sym.getAnchor();
  const w = canvas.width / scale, h = canvas.height / scale;
  return L.icon({
    iconUrl: canvas.toDataURL(),
    iconSize: [w, h],
    iconAnchor: [a.x + pad / scale, a.y + pad / scale],
    className: cls,
  });
}

export function reportIcon(type: string, partner: string | null, urgent: boolean): L.Icon {
  const key = `r|${type}|${partner ?? ""}|${urgent ? 1 : 0}`;
  let icon = cache.get(key);
  if (!icon) {
    const sidc = REPORT_SIDC[type] ?? REPORT_SIDC.other;
    const text = REPORT_TEXT[type];
    icon = draw(sidc, text ? { type: text } : {}, partner, urgent, "rep-sym");
    cache.set(key, icon);
  }
  return icon;
}

export function unitIcon(kind: string, callsign: string, partner: string | null): L.Icon {
  const key = `u|${kind}|${callsign}|${partner ?? ""}`;
  let icon = cache.get(key);
  if (!icon) {
    icon = draw(UNIT_SIDC[kind] ?? "SFGPU-------", { uniqueDesignation: callsign }, partner, false, "unit-sym");
    cache.set(key, icon);
  }
  return icon;
}

/** A small symbol for legends and lists (SVG data URL). */
export function symbolUrl(type: string): string {
  const key = `svg|${type}`;
  const hit = svgCache.get(key);
  if (hit) return hit;
  const s = new ms.Symbol(REPORT_SIDC[type] ?? REPORT_SIDC.other, { size: 14 }).asSVG();
  const url = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(s);
  svgCache.set(key, url);
  return url;
}
const svgCache = new Map<string, string>();
