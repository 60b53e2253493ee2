// #/monitoring: active, completed and failed runs, durations (p50/p95/p99), rates, breakers,
// bulkheads and queues — the figures of GET /v1/monitoring, sampled every 5 s while the console is
// open and drawn as small charts over the last hour (the samples stay in this tab's session storage).
import {api} from "./api.js";
import {el, svg, badge, table, section, duration} from "./dom.js";

const KEY = "moonflow.samples";
const HOUR = 3600 * 1000;
const CHARTS = [
  ["Active runs", s => s.active_total], ["Queue depth", s => s.queue_depth], ["Runs per minute", s => s.last_hour?.runs_per_minute],
  ["Error rate (%)", s => s.last_hour?.error_rate == null ? null : 100 * s.last_hour.error_rate],
  ["Run p95 (ms)", s => s.last_hour?.run_duration_ms?.p95], ["Activity p95 (ms)", s => s.last_hour?.activity_duration_ms?.p95],
];

function samples() {
  try { return JSON.parse(sessionStorage.getItem(KEY) ?? "[]").filter(s => s.t > Date.now() - HOUR); } catch { return []; }
}

function keep(snapshot) {
  const list = samples();
  list.push({t: Date.now(), active_total: snapshot.active_total, queue_depth: snapshot.queue_depth, last_hour: snapshot.last_hour});
  try { sessionStorage.setItem(KEY, JSON.stringify(list)); } catch { /* storage full: the chart shows less */ }
  return list;
}

function chart(title, list, pick) {
  const width = 220, height = 60, now = Date.now();
  const points = list.map(s => [s.t, pick(s)]).filter(([, v]) => typeof v === "number" && isFinite(v));
  const top = Math.max(1, ...points.map(([, v]) => v));
  const x = t => ((t - (now - HOUR)) / HOUR) * width;
  const y = v => height - 4 - (v / top) * (height - 8);
  const path = points.map(([t, v], i) => `${i === 0 ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const last = points.length ? points[points.length - 1][1] : null;
  return el("figure", {class: "chart", "data-chart": title},
    el("figcaption", {}, title, ": ", el("b", {}, last === null ? "–" : String(Math.round(last * 100) / 100))),
    svg("svg", {viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": title},
      svg("rect", {class: "chart-bg", width, height}), path ? svg("path", {d: path, class: "line"}) : svg("text", {x: 8, y: 34, class: "axis"}, "no data yet"),
      points.length ? svg("circle", {cx: x(points[points.length - 1][0]), cy: y(last), r: 2.5, class: "dot"}) : ""));
}

export async function monitoringPage(view) {
  const content = el("div", {"data-monitoring": ""});
  view.append(el("h1", {}, "Monitoring"), content);
  async function refresh() {
    const m = await api("/v1/monitoring");
    const list = keep(m);
    const h = m.last_hour ?? {};
    const pct = r => r == null ? "–" : (100 * r).toFixed(1) + " %";
    const p = d => d?.p50 == null ? "–" : `${duration(d.p50)} / ${duration(d.p95)} / ${duration(d.p99)}`;
    content.replaceChildren(
      el("div", {class: "figures"},
        [["Active", m.active_total], ["Completed today", m.completed_today], ["Failed today", m.failed_today], ["Queued", m.queue_depth]]
          .map(([name, value]) => el("div", {class: "figure"}, el("div", {class: "value"}, String(value ?? "–")), el("div", {}, name)))),
      el("div", {class: "charts"}, CHARTS.map(([title, pick]) => chart(title, list, pick))),
      section("Last hour", table(["", ""], [
        ["Runs ended", String(h.runs_ended ?? 0)], ["Success rate", pct(h.success_rate)], ["Error rate", pct(h.error_rate)],
        ["Runs per minute", String(h.runs_per_minute ?? 0)], ["Activities per minute", String(h.activities_per_minute ?? 0)],
        ["Run p50 / p95 / p99", p(h.run_duration_ms)], ["Activity p50 / p95 / p99", p(h.activity_duration_ms)],
        ["Average run (today)", m.average_duration_ms == null ? "–" : duration(m.average_duration_ms)]])),
      section("Active runs", table(["Status", "Runs"], Object.entries(m.active_runs ?? {}).map(([s, n]) => [badge(s), String(n)]))),
      section("Circuit breakers", (m.breakers ?? []).length === 0 ? el("p", {class: "muted"}, "None.") :
        table(["Breaker", "State", "Consecutive failures", "Opened"], m.breakers.map(b => [b.name, badge(b.state, {"data-breaker": b.name}),
          String(b.consecutive_failures), b.opened_at ?? ""]))),
      section("Bulkheads", (m.bulkheads ?? []).length === 0 ? el("p", {class: "muted"}, "None.") :
        table(["Bulkhead", "In use", "Queued"], m.bulkheads.map(b => [b.name, `${b.in_use} / ${b.max_concurrent}`, `${b.queued} / ${b.max_queue_size}`]))),
      m.processes ? section("Engine processes", table(["Process", "Host", "PID", "Last heartbeat", "Alive", "Runs"],
        m.processes.map(x => [x.id, x.host, String(x.pid), x.last_heartbeat, x.alive ? "yes" : "no", String(x.runs_owned)]))) : "");
  }
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), 5000);
  return () => clearInterval(timer);
}
