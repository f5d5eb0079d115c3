/// <reference types="vite/client" />
declare module "virtual:basemap" {
  const fc: GeoJSON.FeatureCollection<GeoJSON.MultiPolygon, { name: string }>;
  export default fc;
}
