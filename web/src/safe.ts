// The only place the page hands content to Leaflet's tooltips, popups and HTML icons.
// Leaflet parses a string given there as HTML; these wrappers accept DOM nodes only, so
// a text from the API (a partner's section name, a unit's callsign, a field alert's text) can
// only ever become a text node. tests/test_architecture.py keeps every other module off the
// raw Leaflet calls and off every HTML-parsing sink.
import L from "leaflet";

type Content = (layer: L.Layer) => HTMLElement;

/** A tooltip built fresh from DOM nodes each time it opens. */
export function tooltip(layer: L.Layer, content: Content, options?: L.TooltipOptions): void {
  layer.bindTooltip(content, options);
}

/** A popup built fresh from DOM nodes each time it opens. */
export function popup(layer: L.Layer, content: Content, options?: L.PopupOptions): void {
  layer.bindPopup(content, options);
}

/** A marker icon whose HTML part is a DOM node (a new one per marker: Leaflet moves it in). */
export function nodeIcon(options: Omit<L.DivIconOptions, "html"> & { html: HTMLElement }): L.DivIcon {
  return L.divIcon(options);
}
