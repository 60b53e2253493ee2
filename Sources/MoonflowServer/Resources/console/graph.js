// A workflow's activities as a layered graph (dependencies top to bottom), drawn as SVG.
// `layout` is pure (tested in the browser tests); `drawGraph` turns it into nodes that carry
// data-activity and data-status, compensations data-compensation, fallbacks data-fallback.
import {svg, clip} from "./dom.js";

/** A body's kind as a box shows it: `scripts/charge.lua` → `charge.lua`. */
const short = kind => String(kind ?? "").replace(/^scripts\//, "");

export const NODE = {width: 176, height: 44, attachment: 20, gapX: 36, gapY: 64, margin: 16};

/** Each activity's layer: 0 without dependencies, else one more than its deepest dependency. */
export function layers(activities) {
  const byName = new Map(activities.map(a => [a.name, a]));
  const layer = new Map();
  const visiting = new Set();
  const depth = name => {
    if (layer.has(name)) return layer.get(name);
    if (visiting.has(name)) return 0; // a cycle: the loader refuses them; never loop here
    visiting.add(name);
    const needs = (byName.get(name)?.needs ?? []).filter(n => byName.has(n.activity));
    const value = needs.length === 0 ? 0 : 1 + Math.max(...needs.map(n => depth(n.activity)));
    visiting.delete(name);
    layer.set(name, value);
    return value;
  };
  for (const a of activities) depth(a.name);
  return layer;
}

/**
 * Positions: layers top to bottom, within a layer ordered by the mean position of their
 * dependencies and dependents (barycentre sweeps, starting from declaration order), each layer
 * centred. Returns {nodes: [{name, layer, x, y, width, height}], edges: [{from, to, when, path,
 * label}], compensations: [{name, x, y, width, height}], width, height}.
 */
export function layout(graph) {
  const activities = graph.activities ?? [];
  const layerOf = layers(activities);
  const count = activities.length === 0 ? 0 : Math.max(...layerOf.values()) + 1;
  const rows = Array.from({length: count}, () => []);
  activities.forEach((a, index) => rows[layerOf.get(a.name)].push({a, index}));
  const position = new Map();
  rows.forEach(row => row.forEach((n, i) => position.set(n.a.name, i)));
  const parents = new Map(activities.map(a => [a.name, (a.needs ?? []).map(n => n.activity).filter(n => layerOf.has(n))]));
  const children = new Map(activities.map(a => [a.name, []]));
  for (const [name, ps] of parents) for (const p of ps) children.get(p).push(name);
  const mean = (names, fallback) => names.length === 0 ? fallback : names.reduce((s, n) => s + position.get(n), 0) / names.length;
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? rows.slice(1) : rows.slice(0, -1).reverse();
    for (const row of order) {
      const key = new Map(row.map(n => [n.a.name, mean(down ? parents.get(n.a.name) : children.get(n.a.name), position.get(n.a.name))]));
      row.sort((x, y) => key.get(x.a.name) - key.get(y.a.name) || x.index - y.index);
      row.forEach((n, i) => position.set(n.a.name, i));
    }
  }
  const heightOf = a => NODE.height + NODE.attachment * ((a.compensation ? 1 : 0) + (a.fallback ? 1 : 0));
  const widest = Math.max(1, ...rows.map(r => r.length), (graph.compensations ?? []).length);
  const width = NODE.margin * 2 + widest * NODE.width + (widest - 1) * NODE.gapX;
  const nodes = [];
  const byName = new Map();
  let y = NODE.margin;
  for (const [layer, row] of rows.entries()) {
    const rowWidth = row.length * NODE.width + (row.length - 1) * NODE.gapX;
    let x = (width - rowWidth) / 2;
    const rowHeight = Math.max(...row.map(n => heightOf(n.a)));
    for (const n of row) {
      const node = {name: n.a.name, activity: n.a, layer, x, y, width: NODE.width, height: heightOf(n.a)};
      nodes.push(node);
      byName.set(node.name, node);
      x += NODE.width + NODE.gapX;
    }
    y += rowHeight + NODE.gapY;
  }
  const edges = [];
  for (const a of activities) {
    for (const need of a.needs ?? []) {
      const from = byName.get(need.activity), to = byName.get(a.name);
      if (!from || !to) continue;
      const x1 = from.x + from.width / 2, y1 = from.y + from.height, x2 = to.x + to.width / 2, y2 = to.y;
      const bend = Math.max(24, (y2 - y1) / 2);
      edges.push({from: from.name, to: to.name, when: need.when ?? null,
        path: `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}`,
        label: {x: (x1 + x2) / 2, y: (y1 + y2) / 2}});
    }
  }
  const compensations = [];
  const list = graph.compensations ?? [];
  if (list.length > 0) {
    let x = (width - (list.length * NODE.width + (list.length - 1) * NODE.gapX)) / 2;
    for (const c of list) {
      compensations.push({name: c.name, kind: c.kind, x, y, width: NODE.width, height: NODE.height});
      x += NODE.width + NODE.gapX;
    }
    y += NODE.height + NODE.gapY;
  }
  return {nodes, edges, compensations, width, height: Math.max(y - NODE.gapY + NODE.margin, NODE.margin * 2)};
}

/**
 * The SVG of `graph`. `status(name)` gives each activity's status (`pending` on a definition);
 * `onSelect(name)` is called when a node is clicked or chosen with the keyboard. The returned
 * element has `setStatus(name, status)` and `setCompensated(name)` for live updates.
 */
export function drawGraph(graph, {status = () => "pending", onSelect = null} = {}) {
  const g = layout(graph);
  const root = svg("svg", {class: "graph", viewBox: `0 0 ${g.width} ${g.height}`, width: g.width, height: g.height, role: "img",
    "aria-label": "workflow graph"});
  root.append(svg("defs", {}, svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
    orient: "auto-start-reverse"}, svg("path", {d: "M0,0 L10,5 L0,10 z", class: "arrowhead"}))));
  for (const e of g.edges) {
    root.append(svg("path", {d: e.path, class: e.when ? "edge conditional" : "edge", "marker-end": "url(#arrow)",
      "data-from": e.from, "data-to": e.to}));
    if (e.when) {
      root.append(svg("text", {x: e.label.x, y: e.label.y, class: "edge-label", "text-anchor": "middle"},
        svg("title", {}, e.when), clip(e.when, 28)));
    }
  }
  const nodes = new Map();
  for (const n of g.nodes) {
    const a = n.activity;
    const group = svg("g", {class: "node", "data-activity": n.name, "data-status": status(n.name), tabindex: onSelect ? 0 : null,
      transform: `translate(${n.x},${n.y})`, "data-kind": a.kind, "data-manual": a.manual ? "true" : null});
    group.append(svg("title", {}, `${n.name} — ${a.kind}${a.when ? `\nwhen ${a.when}` : ""}`),
      svg("rect", {class: "box", width: n.width, height: NODE.height, rx: 8}),
      svg("text", {x: 10, y: 18, class: "name"}, clip(n.name, 24)),
      svg("text", {x: 10, y: 34, class: "kind"}, clip((a.when ? "when… · " : "") + short(a.kind), 28)));
    let y = NODE.height;
    if (a.fallback) {
      group.append(svg("g", {class: "attachment fallback", "data-fallback": n.name, transform: `translate(12,${y + 2})`},
        svg("rect", {width: n.width - 12, height: NODE.attachment - 4, rx: 4}),
        svg("title", {}, "fallback: " + a.fallback.kind), svg("text", {x: 6, y: 12}, clip("fallback: " + short(a.fallback.kind), 25))));
      y += NODE.attachment;
    }
    if (a.compensation) {
      group.append(svg("g", {class: "attachment compensation", "data-compensation": n.name, "data-status": "pending",
        transform: `translate(12,${y + 2})`},
        svg("rect", {width: n.width - 12, height: NODE.attachment - 4, rx: 4}),
        svg("title", {}, "undo: " + a.compensation.kind), svg("text", {x: 6, y: 12}, clip("undo: " + short(a.compensation.kind), 25))));
    }
    if (onSelect) {
      group.addEventListener("click", () => onSelect(n.name));
      group.addEventListener("keydown", event => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); onSelect(n.name); } });
    }
    nodes.set(n.name, group);
    root.append(group);
  }
  for (const c of g.compensations) {
    root.append(svg("g", {class: "attachment compensation workflow-compensation", "data-compensation": c.name, "data-status": "pending",
      transform: `translate(${c.x},${c.y})`},
      svg("title", {}, `on failure: ${c.name} — ${c.kind}`),
      svg("rect", {width: c.width, height: c.height, rx: 8}),
      svg("text", {x: 10, y: 18}, clip("on failure: " + c.name, 26)),
      svg("text", {x: 10, y: 34, class: "kind"}, clip(short(c.kind), 28))));
  }
  root.setStatus = (name, value) => nodes.get(name)?.setAttribute("data-status", value);
  root.setCompensation = (name, value) => {
    for (const node of root.querySelectorAll("[data-compensation]")) {
      if (node.getAttribute("data-compensation") === name) node.setAttribute("data-status", value);
    }
  };
  root.select = name => { for (const [n, node] of nodes) node.classList.toggle("selected", n === name); };
  return root;
}
