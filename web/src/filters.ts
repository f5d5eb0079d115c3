// The filter panel: what kinds of reports are shown. Its boxes follow the store's filters.
import { $, h } from "./dom";
import { num, onLanguage, t, tx } from "./i18n";
import { filterToggled, filtersCleared, state, subscribe, type FilterKey } from "./store";

export function initFilters() {
  subscribe(["session"], renderFilters);
  onLanguage(renderFilters);
  subscribe(["query", "view"], syncBoxes);
  subscribe(["ui"], () => {
    const el = $("#filters");
    if (el.hidden === !state.filtersOpen) return;
    el.hidden = !state.filtersOpen;
    if (!el.hidden) el.querySelector<HTMLInputElement>("input")?.focus();
  });
}

function renderFilters() {
  const tax = state.taxonomy;
  if (!tax) return;
  const group = (key: FilterKey, label: string, values: { v: string; label: string }[]) =>
    h("fieldset", { "data-filter": key }, h("legend", {}, label), values.map(({ v, label: l }) => h("label.check", {},
      h("input", { type: "checkbox", value: v, checked: state.filters[key].includes(v),
        onchange: (e: Event) => filterToggled(key, v, (e.target as HTMLInputElement).checked) }), " ", l)));
  const countries = state.node?.roster ?? [];
  $("#filters").replaceChildren(
    h("header", {}, h("h2", {}, t("filters")), h("button.ghost", { onclick: () => filtersCleared() }, t("clear"))),
    group("layer", t("f_layer"), tax.layers.map((v) => ({ v, label: tx(v) }))),
    group("type", t("f_type"), tax.types.map((x) => ({ v: x.code, label: tx(x.code) }))),
    group("country", t("f_country"), countries.map((v) => ({ v, label: `${v} · ${tx(v)}` }))),
    group("agency", t("f_agency"), state.agencies.map((a) => ({ v: a.code, label: `${a.code}` }))),
    group("state", t("f_state"), tax.states.map((v) => ({ v, label: tx(v) }))),
    group("impact", t("f_impact"), tax.impact_levels.map((v) => ({ v, label: tx(v) }))),
    group("grade", t("f_grade"), [...tax.grade.source, ...tax.grade.info.map(String)].map((v) => ({ v, label: /\d/.test(v) ? num(Number(v)) : v }))));
}

/** The boxes as the filters are, without rebuilding the panel (focus stays where it is). */
function syncBoxes() {
  for (const set of document.querySelectorAll<HTMLFieldSetElement>("#filters fieldset[data-filter]")) {
    const chosen = state.filters[set.dataset.filter as FilterKey];
    for (const box of set.querySelectorAll<HTMLInputElement>("input[type=checkbox]")) box.checked = chosen.includes(box.value);
  }
}
