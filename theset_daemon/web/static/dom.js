// Building the page's DOM. Text always enters as text nodes (textContent), never
// as HTML: job arguments, errors and names are data, and data is never parsed.

const SVG = "http://www.w3.org/2000/svg";
// Properties set directly (they are state, not markup).
const PROPS = new Set(["value", "checked", "disabled", "max", "type", "title", "hidden", "open"]);

function setProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.setAttribute("class", value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "href" && !/^[#/]/.test(String(value))) throw new Error(`refusing link ${value}`);
    else if (PROPS.has(key) && key in el) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

/** Append children: nodes as they are, strings and numbers as text, arrays flattened, null skipped. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** h("a", {href: "#/x", class: "c"}, "text", node, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  return append(el, children);
}

export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG, tag);
  setProps(el, props);
  return append(el, children);
}

/** Replace everything inside el. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A table: headers (strings or [text, class]) and rows (arrays of cells, or a ready <tr>). */
export function table(headers, rows, { empty = "Nothing here.", cls = "" } = {}) {
  const head = h("tr", null, headers.map((x) => (Array.isArray(x) ? h("th", { class: x[1] }, x[0]) : h("th", null, x))));
  const body = rows.map((row) => (row instanceof Node ? row : h("tr", null, row.map(cell))));
  labelCells(body, headers.map((x) => (Array.isArray(x) ? x[0] : x)));
  if (!rows.length) body.push(h("tr", null, h("td", { colspan: headers.length, class: "muted" }, empty)));
  return h("div", { class: "table-wrap" }, h("table", { class: cls }, h("thead", null, head), h("tbody", null, body)));
}

/** Give each cell its column's name (data-label): phones show rows as cards, labelled. */
export function labelCells(rows, labels) {
  for (const row of rows) [...row.children].forEach((td, i) => { if (labels[i]) td.dataset.label = labels[i]; });
}

/** A table cell: a node or text, or [content, class]. */
export function cell(value) {
  if (Array.isArray(value)) return h("td", { class: value[1] }, value[0]);
  return h("td", null, value);
}

/** Pretty JSON in a <pre>, as text. */
export function jsonBlock(value, cls = "code") {
  return h("pre", { class: cls }, value === undefined ? "" : JSON.stringify(value, null, 2));
}

/** A small sparkline of numbers (oldest first) as an inline SVG polyline. */
export function sparkline(values, { width = 120, height = 28, label = "" } = {}) {
  const nums = (values || []).map((v) => Number(v) || 0);
  const max = Math.max(1, ...nums);
  const step = nums.length > 1 ? width / (nums.length - 1) : width;
  const points = nums.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
  const total = nums.reduce((a, b) => a + b, 0);
  return svg("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
                      "aria-label": label || `${total} jobs in ${nums.length} minutes` },
    svg("title", null, label || `${total} jobs in the last ${nums.length} minutes (peak ${max}/min)`),
    nums.length ? svg("polyline", { points: points.join(" "), fill: "none" }) : null);
}
