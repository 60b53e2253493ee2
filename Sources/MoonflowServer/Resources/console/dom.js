// Building the page: every node is made with DOM calls and every string from the API goes in as
// text (textContent, attribute values). No HTML is ever parsed from data; the page's policy
// (Trusted Types) would refuse it anyway.
const SVG = "http://www.w3.org/2000/svg";
// Attributes that would load or run something: never set from here.
const REFUSED = /^(on|href$|src$|srcdoc$|style$|formaction$|action$|xlink:href$)/i;

function build(node, attributes, children) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (REFUSED.test(name)) throw new Error(`refused attribute ${name}`);
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element with attribute values and children (nodes, or text). */
export function el(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** An SVG element. */
export function svg(tag, attributes = {}, ...children) {
  return build(document.createElementNS(SVG, tag), attributes, children);
}

/** A link to a route of the console: the href is always a fragment, made of encoded segments. */
export function link(text, ...segments) {
  const a = el("a", {}, text);
  a.href = "#/" + segments.map(s => encodeURIComponent(String(s))).join("/");
  return a;
}

/** A button that runs `action` on click. */
export function button(text, action, attributes = {}) {
  const b = el("button", {type: "button", ...attributes}, text);
  b.addEventListener("click", action);
  return b;
}

/** The CSS-safe form of a status name (the class of its colour). */
export const statusClass = status => "s-" + String(status ?? "").replace(/[^a-z_]/g, "");

export function badge(status, attributes = {}) {
  return el("span", {class: "badge " + statusClass(status), ...attributes}, status ?? "");
}

export const json = value => JSON.stringify(value, null, 2) ?? "null";

/** A value shown as indented JSON text. */
export const pre = value => el("pre", {}, json(value));

export function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

export function duration(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60000);
  return m < 60 ? `${m} min ${Math.round((ms % 60000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A table with a header row and rows of cells (nodes or text). */
export function table(headers, rows, attributes = {}) {
  return el("table", attributes,
    el("thead", {}, el("tr", {}, headers.map(h => el("th", {}, h)))),
    el("tbody", {}, rows.map(cells => el("tr", {}, cells.map(c => el("td", {}, c))))));
}

export function section(title, ...children) {
  return el("section", {}, el("h2", {}, title), ...children);
}

/** A short text, whole in its tooltip. */
export function clip(text, length) {
  const s = String(text ?? "");
  return s.length > length ? s.slice(0, length - 1) + "…" : s;
}
