// Build the COP page into the node's package: the node serves src/fossatum/web/dist at "/".
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { defineConfig, type Plugin } from "vite";
import { feature } from "topojson-client";

const require = createRequire(import.meta.url);

// The offline basemap: Natural Earth 1:10m countries (npm world-atlas), cut at build time to
// the Mediterranean and Sahara around the three countries, coordinates rounded to ~100 m.
// Nothing of it is committed; nothing is fetched by the page.
const BBOX = [-10, 17, 30, 44]; // minlon, minlat, maxlon, maxlat
// Full 1:10m detail (~100 m) around the three borders; ~1 km elsewhere.
const FINE = [4, 28, 14, 38];
function basemap(): Plugin {
  const id = "virtual:basemap";
  return {
    name: "fossatum-basemap",
    resolveId: (s) => (s === id ? "\0" + id : undefined),
    load(s) {
      if (s !== "\0" + id) return undefined;
      const topo = JSON.parse(readFileSync(require.resolve("world-atlas/countries-10m.json"), "utf8"));
      const fc = feature(topo, topo.objects.countries) as unknown as GeoJSON.FeatureCollection;
      const out: unknown[] = [];
      const fine = ([x, y]: number[]) => x >= FINE[0] && x <= FINE[2] && y >= FINE[1] && y <= FINE[3];
      const r = (v: number, f: number) => Math.round(v * f) / f;
      const inBox = ([x, y]: number[]) => x >= BBOX[0] && x <= BBOX[2] && y >= BBOX[1] && y <= BBOX[3];
      for (const f of fc.features) {
        const g = f.geometry as GeoJSON.Polygon | GeoJSON.MultiPolygon | null;
        if (!g) continue;
        const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
        const kept: number[][][][] = [];
        for (const poly of polys) {
          if (!poly[0].some(inBox)) continue;
          const rings = poly.map((ring) => {
            const o: number[][] = [];
            for (const p of ring) {
              const f = fine(p) ? 1000 : 100;
              const q = [r(p[0], f), r(p[1], f)];
              const last = o[o.length - 1];
              if (!last || last[0] !== q[0] || last[1] !== q[1]) o.push(q);
            }
            return o;
          }).filter((ring) => ring.length >= 4);
          if (rings.length) kept.push(rings);
        }
        if (kept.length) out.push({ type: "Feature", properties: { name: (f.properties as { name?: string })?.name ?? "" }, geometry: { type: "MultiPolygon", coordinates: kept } });
      }
      return `export default ${JSON.stringify({ type: "FeatureCollection", features: out })};`;
    },
  };
}

export default defineConfig({
  base: "/",
  plugins: [basemap()],
  build: {
    outDir: "../src/fossatum/web/dist",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2020",
    chunkSizeWarningLimit: 2000,
  },
  server: {
    port: 5173,
    proxy: {
      "/api": { target: process.env.FOSSATUM_NODE ?? "http://127.0.0.1:8100", ws: true },
    },
  },
});
