// A run's timeline (Gantt) from its events: per activity its queue wait (scheduled → started),
// each attempt, the backoff before a retry and the waits (tasks, timers, child runs); then each
// compensation. Times are the events' `at` (nanoseconds since 1970).
import {svg, clip, duration} from "./dom.js";

const ms = at => Number(at) / 1e6;

/** {rows: [{key, label, kind, segments: [{kind, from, to, open, attempt, outcome}]}], start} from events in order. */
export function timelineModel(events) {
  const rows = new Map();
  let start = null;
  const row = (key, label, kind) => {
    if (!rows.has(key)) rows.set(key, {key, label, kind, segments: [], open: null});
    return rows.get(key);
  };
  const open = (r, kind, from, extra = {}) => {
    close(r, from);
    r.open = {kind, from, to: null, open: true, ...extra};
    r.segments.push(r.open);
  };
  const close = (r, at, outcome) => {
    if (!r.open) return;
    r.open.to = at;
    r.open.open = false;
    if (outcome) r.open.outcome = outcome;
    r.open = null;
  };
  for (const e of events) {
    const at = ms(e.at);
    if (start === null || at < start) start = at;
    if (!e.activity) continue;
    if (e.type.startsWith("compensation.")) {
      const r = row("undo:" + e.activity, "undo " + e.activity, "compensation");
      if (e.type === "compensation.started") open(r, "compensation", at);
      else close(r, at, e.type === "compensation.completed" ? "completed" : "failed");
      continue;
    }
    const r = row(e.activity, e.activity, "activity");
    switch (e.type) {
    case "activity.scheduled": open(r, "queue", at); break;
    case "activity.started": open(r, "attempt", at, {attempt: e.attempt}); break;
    case "activity.retrying":
      close(r, at, "failed");
      open(r, "backoff", at, {until: e.data?.next_attempt_at ? ms(e.data.next_attempt_at) : null});
      break;
    case "activity.waiting": open(r, "waiting", at, {on: e.data}); break;
    case "activity.completed": case "activity.failed": case "activity.skipped": case "activity.cancelled": {
      const outcome = e.type.slice("activity.".length);
      // A body that returns at once has its start written with its completion: one attempt.
      if (!r.open || r.open.kind === "queue") open(r, "attempt", at, {attempt: e.attempt});
      close(r, at, e.type === "activity.completed" && e.data?.via_fallback ? "completed_via_fallback" : outcome);
      break;
    }
    default: break;
    }
  }
  return {start, rows: [...rows.values()]};
}

/** The timeline as SVG; open segments reach `now` (a live run's present). */
export function drawTimeline(model, now = Date.now()) {
  const labelWidth = 150, width = 760, rowHeight = 22, top = 20;
  const rows = model.rows;
  const start = model.start ?? now;
  let end = start + 1;
  for (const r of rows) for (const s of r.segments) end = Math.max(end, s.to ?? now, s.until ?? 0);
  const scale = (width - labelWidth - 10) / (end - start);
  const x = t => labelWidth + (t - start) * scale;
  const height = top + rows.length * rowHeight + 6;
  const root = svg("svg", {class: "timeline", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "timeline"});
  root.append(svg("text", {x: labelWidth, y: 12, class: "axis"}, "0"),
    svg("text", {x: width - 10, y: 12, class: "axis", "text-anchor": "end"}, duration(end - start)));
  rows.forEach((r, index) => {
    const y = top + index * rowHeight;
    const g = svg("g", {class: "row " + r.kind, "data-row": r.key});
    g.append(svg("text", {x: 4, y: y + 14, class: "label"}, svg("title", {}, r.label), clip(r.label, 22)));
    for (const s of r.segments) {
      const from = x(s.from), to = x(s.to ?? (s.kind === "backoff" && s.until ? Math.min(s.until, now) : now));
      const what = s.kind === "attempt" ? `attempt ${s.attempt ?? ""}` : s.kind;
      g.append(svg("rect", {x: from, y: y + 3, width: Math.max(2, to - from), height: rowHeight - 8, rx: 2,
        class: `bar ${s.kind}${s.outcome ? " " + s.outcome : ""}${s.open ? " open" : ""}`, "data-segment": s.kind},
        svg("title", {}, `${r.label}: ${what}${s.outcome ? " → " + s.outcome : ""} (${duration((s.to ?? now) - s.from)})`)));
    }
    root.append(g);
  });
  return root;
}
