// Colours of the operations layers (issue 12). Countries are told apart by the Okabe–Ito palette
// (Okabe & Ito, "Color Universal Design", 2008): its eight colours stay distinct for the common
// forms of colour blindness (protanopia, deuteranopia, tritanopia), and on the page's dark map.
// Colour is never the only carrier: every sector is labelled with its country's code, and a
// checkpoint's status is a shape and a glyph as well as a colour.
//
//   country   colour             Okabe–Ito name
//   TUN       #D55E00            vermillion
//   DZA       #009E73            bluish green
//   LBY       #56B4E9            sky blue
//   joint     #CC79A7            reddish purple (a checkpoint operated jointly)
//   other     #E69F00, #0072B2   orange, blue (a partner added later), in roster order
//
// Checkpoint status: open = blue #0072B2 circle "○"; closed = vermillion #D55E00 square "✕";
// reinforced = orange #E69F00 diamond "▲". Coverage gaps: yellow #F0E442, dashed.
// The same values are in style.css (.c-XXX, .cp-*), which the CSP requires (no inline style).

export const COUNTRY_COLOUR: Record<string, string> = { TUN: "#D55E00", DZA: "#009E73", LBY: "#56B4E9", joint: "#CC79A7" };
const SPARE = ["#E69F00", "#0072B2", "#F0E442"];
export const GAP_COLOUR = "#F0E442";
export const ROUTE_COLOUR = "#E6EDF3";

/** A country's colour; a country not in the table gets a spare one, the same for the whole session. */
export function countryColour(country: string): string {
  if (!COUNTRY_COLOUR[country]) COUNTRY_COLOUR[country] = SPARE[Object.keys(COUNTRY_COLOUR).length % SPARE.length];
  return COUNTRY_COLOUR[country];
}

/** The CSS class that paints a chip or a marker half in a country's colour (see style.css). */
export function countryClass(country: string): string {
  return ["TUN", "DZA", "LBY", "joint"].includes(country) ? `c-${country}` : "c-other";
}
