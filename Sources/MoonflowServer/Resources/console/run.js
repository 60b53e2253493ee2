// #/runs/<id>: the graph coloured by status, the timeline, each activity's input, output, error
// and attempts, compensations in the order they ran, context changes step by step, script logs,
// tasks and the raw history — kept current from the event stream without reloading: events are
// appended where they belong, statuses set on the nodes in place.
import {api, enc, followEvents} from "./api.js";
import {el, link, badge, button, section, pre, time, duration, json, statusClass, clip} from "./dom.js";
import {drawGraph} from "./graph.js";
import {timelineModel, drawTimeline} from "./timeline.js";
import {say, confirmAction} from "./ui.js";

const TERMINAL = new Set(["completed", "failed", "compensated", "compensation_failed", "timed_out", "cancelled", "terminated"]);
const ACTIONS = {
  cancel: ["Cancel", "Cancel this run? Running activities are cancelled and completed ones compensated."],
  terminate: ["Terminate", "Terminate this run now? Nothing is compensated."],
  redrive: ["Redrive", "Redrive this run from its failed activities?"],
  rerun: ["Rerun", "Start this workflow again with the same input?"],
  pause: ["Pause", "Pause this run? Running activities finish; nothing new starts."],
  unpause: ["Unpause", "Let this run go on?"],
  continue: ["Continue", "Continue this run?"],
  resume_compensation: ["Resume compensation", "Resume this run's compensation?"],
};
// The statuses the console shows (docs/console.md): the engine's, with its two in-between
// states folded into the nearest (`scheduled` → pending, `backoff` → waiting).
const shown = status => ({scheduled: "pending", backoff: "waiting"})[status] ?? status;
const EVENT_STATUS = {"activity.scheduled": "pending", "activity.started": "running", "activity.retrying": "waiting",
  "activity.waiting": "waiting", "activity.failed": "failed", "activity.skipped": "skipped", "activity.cancelled": "cancelled"};
const eventKey = e => `${e.type}|${e.activity ?? ""}|${e.attempt ?? ""}|${e.at}`;
const when = e => new Date(Number(e.at) / 1e6);
const clock = e => when(e).toLocaleTimeString(undefined, {hour12: false}) + "." + String(when(e).getMilliseconds()).padStart(3, "0");

/** The graph of the run's definition: the current one when it is the same, else the activities alone. */
async function runGraph(summary) {
  const names = Object.keys(summary.activities ?? {});
  try {
    const w = await api(`/v1/workflows/${enc(summary.workflow)}`);
    const same = w.graph && (w.hash === summary.definition_hash ||
      (w.graph.activities.length === names.length && w.graph.activities.every(a => names.includes(a.name))));
    if (same) return w.graph;
  } catch { /* a deleted workflow: draw what the run knows */ }
  return {activities: names.map(name => ({name, kind: "", needs: [], when: null, compensation: null, fallback: null})), compensations: []};
}

export async function runPage(view, {id}) {
  let summary = await api(`/v1/runs/${enc(id)}`);
  const graph = await runGraph(summary);
  const compensated = new Set();
  const seen = new Set();
  const events = [];
  let report = null, reportStale = true, selected = null;

  const statusBadge = badge(summary.status, {"data-run-status": summary.status});
  const errorBox = el("div", {class: "error-box", "data-run-error": ""});
  const actionBar = el("div", {class: "actions", "data-actions": ""});
  const live = el("span", {class: "live", "data-live": "connecting"}, "connecting");
  const details = el("div", {class: "details", "data-details": ""}, el("p", {class: "muted"}, "Choose an activity."));
  const svgGraph = drawGraph(graph, {status: name => shown(summary.activities?.[name] ?? "pending"), onSelect: name => select(name)});
  const timelineFrame = el("div", {class: "timeline-frame", "data-timeline": ""});
  const compensationRows = el("tbody", {"data-compensations": ""});
  const contextStart = el("pre", {"data-context-initial": ""}, "{}");
  const contextNow = el("pre", {"data-context": ""}, "{}");
  const contextRows = el("tbody", {"data-context-steps": ""});
  // Watching a variable: only its changes are listed.
  const watch = el("select", {"data-watch": ""}, el("option", {value: ""}, "every variable"));
  const watched = new Set();
  const showWatched = () => { for (const row of contextRows.children) row.hidden = watch.value !== "" && row.dataset.variable !== watch.value; };
  watch.addEventListener("change", showWatched);
  const logRows = el("tbody", {"data-logs": ""});
  const historyRows = el("tbody", {"data-history": ""});
  const taskList = el("ul", {"data-tasks": ""});
  let context = {};
  const plan = new Map();
  const compensationRow = new Map();

  const header = el("div", {class: "run-header"},
    el("h1", {}, "Run ", el("code", {"data-run-id": ""}, summary.run_id)),
    el("p", {}, "Workflow ", link(summary.workflow, "workflows", summary.workflow), summary.version ? ` version ${summary.version} ` : " ",
      statusBadge, " ", live),
    el("p", {class: "muted", "data-run-times": ""}),
    summary.parent ? el("p", {}, "Child of ", link(summary.parent.run_id, "runs", summary.parent.run_id), ` (activity ${summary.parent.activity})`) : "",
    errorBox, actionBar);
  const table = (headers, body, attributes = {}) => el("table", attributes, el("thead", {}, el("tr", {}, headers.map(h => el("th", {}, h)))), body);
  view.append(header,
    el("div", {class: "run-grid"}, section("Graph", el("div", {class: "graph-frame"}, svgGraph)), section("Activity", details)),
    section("Timeline", el("p", {class: "legend"}, ["queue", "attempt", "backoff", "waiting", "compensation"].map(k => el("span", {class: "key " + k}, k))), timelineFrame),
    section("Compensations (in the order they ran)", table(["Activity", "Handler", "Status", "Attempts", "Error"], compensationRows)),
    section("Context", el("div", {class: "two"}, el("div", {}, el("h3", {}, "Initial"), contextStart), el("div", {}, el("h3", {}, "Now"), contextNow)),
      el("label", {class: "watch"}, "Watch ", watch), table(["Time", "Step", "Variable", "Value"], contextRows)),
    section("Tasks", taskList),
    section("Script logs", table(["Time", "Activity", "Level", "Message", "Fields"], logRows)),
    section("History", table(["Time", "Event", "Activity", "Attempt", "Data"], historyRows, {class: "history"})));

  function renderSummary() {
    statusBadge.textContent = summary.status;
    statusBadge.className = "badge " + statusClass(summary.status);
    statusBadge.setAttribute("data-run-status", summary.status);
    const started = summary.started_at ? Date.parse(summary.started_at) : null;
    const finished = summary.finished_at ? Date.parse(summary.finished_at) : null;
    view.querySelector("[data-run-times]").textContent = `queued ${time(summary.queued_at)}` +
      (started ? ` · started ${time(summary.started_at)}` : "") + (finished ? ` · finished ${time(summary.finished_at)}` : "") +
      (started ? ` · ${duration((finished ?? Date.now()) - started)}` : "");
    errorBox.replaceChildren(summary.error ? el("pre", {class: "error"}, `${summary.error.type}: ${summary.error.message}`) : "");
    for (const [name, status] of Object.entries(summary.activities ?? {})) {
      svgGraph.setStatus(name, compensated.has(name) ? "compensated" : shown(status));
    }
    const actions = Array.isArray(summary.actions) ? summary.actions : [];
    if (actionBar.dataset.shown !== actions.join(",")) {
      actionBar.dataset.shown = actions.join(",");
      actionBar.replaceChildren(...actions.map(action => button(ACTIONS[action]?.[0] ?? action, () => act(action),
        {"data-action": action, class: action === "terminate" || action === "cancel" ? "danger" : ""})));
    }
  }

  // A rerun starts from the activity selected in the graph (those before it keep their recorded
  // outputs), else from one with no dependencies: the whole workflow again.
  function rerunFrom() {
    return selected ?? graph.activities?.find(a => (a.needs ?? []).length === 0)?.name;
  }

  async function act(action) {
    const from = action === "rerun" ? rerunFrom() : undefined;
    const question = action === "rerun" && selected ? `Rerun this workflow from ${selected}, with the outputs before it kept?`
      : ACTIONS[action]?.[1] ?? `${action} this run?`;
    if (!(await confirmAction(question))) return;
    try {
      const result = await api(`/v1/runs/${enc(id)}/${enc(action === "resume_compensation" ? "resume-compensation" : action)}`,
        {method: "POST", body: from === undefined ? undefined : {from}});
      if (action === "rerun" && result.run_id) { location.hash = "#/runs/" + encodeURIComponent(result.run_id); return; }
      say(`${action}: the run is ${result.status ?? "updated"}.`, "info");
    } catch (error) { say(`${action} failed: ${error.type}: ${error.message}`); }
    refreshSummary();
  }

  let refreshing = false, again = false;
  async function refreshSummary() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      do {
        again = false;
        summary = await api(`/v1/runs/${enc(id)}`);
        renderSummary();
      } while (again);
    } catch (error) { say(error.message); } finally { refreshing = false; }
    if (selected) showDetails(selected);
  }

  function select(name) {
    selected = name;
    svgGraph.select(name);
    showDetails(name);
  }

  async function showDetails(name) {
    if (reportStale || !report) {
      try { report = await api(`/v1/runs/${enc(id)}/report`); reportStale = false; } catch (error) { details.replaceChildren(el("p", {class: "error"}, error.message)); return; }
    }
    if (selected !== name) return;
    const a = (report.activities ?? []).find(x => x.name === name);
    const attempts = events.filter(e => e.activity === name && (e.type === "activity.retrying" || e.type === "activity.failed"));
    details.replaceChildren(...[el("h3", {}, name, " ", badge(compensated.has(name) ? "compensated" : shown(a?.status ?? summary.activities?.[name]))),
      a ? el("dl", {},
        el("dt", {}, "Attempts"), el("dd", {"data-attempts": ""}, String(a.attempts)),
        el("dt", {}, "Started"), el("dd", {}, time(a.started_at)), el("dt", {}, "Finished"), el("dd", {}, time(a.finished_at)),
        el("dt", {}, "Duration"), el("dd", {}, duration(a.duration_ms))) : el("p", {class: "muted"}, "Not started."),
      a?.error ? [el("h4", {}, "Error"), el("pre", {class: "error", "data-activity-error": ""}, `${a.error.type}: ${a.error.message}`)] : "",
      attempts.length ? [el("h4", {}, "Failed attempts"), el("ol", {}, attempts.map(e => el("li", {}, `#${e.attempt ?? e.data?.attempts ?? "?"} ${clock(e)}: ${e.data?.error?.type ?? ""}: ${e.data?.error?.message ?? ""}`)))] : "",
      el("h4", {}, "Input"), el("pre", {"data-activity-input": ""}, json(a?.input ?? null)),
      el("h4", {}, "Output"), el("pre", {"data-activity-output": ""}, json(a?.output ?? null))].flat());
  }

  let timelineQueued = false;
  function redrawTimeline() {
    if (timelineQueued) return;
    timelineQueued = true;
    requestAnimationFrame(() => {
      timelineQueued = false;
      timelineFrame.replaceChildren(drawTimeline(timelineModel(events), TERMINAL.has(summary.status) && summary.finished_at ? Date.parse(summary.finished_at) : Date.now()));
    });
  }

  function apply(e) {
    const key = eventKey(e);
    if (seen.has(key)) return;
    seen.add(key);
    events.push(e);
    historyRows.append(el("tr", {"data-event": e.type}, el("td", {}, clock(e)), el("td", {}, e.type), el("td", {}, e.activity ?? ""),
      el("td", {}, e.attempt ?? ""), el("td", {}, el("details", {}, el("summary", {}, clip(JSON.stringify(e.data), 80)), pre(e.data)))));
    const data = e.data ?? {};
    if (e.type === "run.queued") {
      context = {...(data.context ?? {})};
      contextStart.textContent = json(context);
      contextNow.textContent = json(context);
    }
    const writes = data.context_writes;
    if (writes && typeof writes === "object") {
      for (const [name, value] of Object.entries(writes)) {
        context[name] = value;
        if (!watched.has(name)) {
          watched.add(name);
          const option = el("option", {}, name);
          option.value = name;
          watch.append(option);
        }
        contextRows.append(el("tr", {"data-variable": name, hidden: watch.value !== "" && watch.value !== name}, el("td", {}, clock(e)), el("td", {}, (e.type.startsWith("compensation.") ? "undo " : "") + (e.activity ?? "")),
          el("td", {}, el("code", {}, name)), el("td", {}, pre(value))));
      }
      contextNow.textContent = json(context);
    }
    if (e.type === "activity.log") {
      logRows.append(el("tr", {class: "log " + statusClass(data.level)}, el("td", {}, clock(e)), el("td", {}, e.activity ?? ""),
        el("td", {}, String(data.level ?? "")), el("td", {class: "message"}, String(data.message ?? "")), el("td", {}, data.fields ? pre(data.fields) : "")));
    }
    if (e.type === "task.created" && data.id) {
      taskList.append(el("li", {}, link(data.id, "tasks", data.id), ` (${e.activity ?? ""})`, data.due ? ` due ${new Date(Number(data.due) / 1e6).toLocaleString()}` : ""));
    }
    if (e.type === "run.compensating") for (const step of data.plan ?? []) plan.set(step.activity, step.handler);
    if (e.type.startsWith("compensation.") && e.activity) {
      const status = e.type === "compensation.started" ? "running" : e.type === "compensation.completed" ? "compensated" : "failed";
      let row = compensationRow.get(e.activity);
      if (!row) {
        row = el("tr", {"data-compensation": e.activity});
        compensationRow.set(e.activity, row);
        compensationRows.append(row);
      }
      row.replaceChildren(el("td", {}, e.activity), el("td", {}, plan.get(e.activity) ?? ""), el("td", {}, badge(status)),
        el("td", {}, String(data.attempts ?? "")), el("td", {}, data.error ? el("span", {class: "error"}, `${data.error.type}: ${data.error.message}`) : ""));
      svgGraph.setCompensation(e.activity, status);
      if (e.type === "compensation.completed") { compensated.add(e.activity); svgGraph.setStatus(e.activity, "compensated"); }
    }
    if (e.activity && e.type.startsWith("activity.")) {
      reportStale = true;
      const status = e.type === "activity.completed" ? (data.via_fallback ? "completed_via_fallback" : "completed") : EVENT_STATUS[e.type];
      if (status && !compensated.has(e.activity)) svgGraph.setStatus(e.activity, status);
    }
    redrawTimeline();
  }

  renderSummary();
  // Subscribed before the history is read: what happens in between comes by the stream too, once.
  let started = false, buffer = [];
  const begin = async () => {
    if (started) return;
    started = true;
    try {
      const history = await api(`/v1/runs/${enc(id)}/history`);
      for (const e of history.events) apply(e);
    } catch (error) { say(error.message); }
    for (const e of buffer) apply(e);
    buffer = null;
    if (events.length === 0) redrawTimeline();
  };
  const stop = followEvents("run_id=" + enc(id), {
    onOpen: begin,
    onState: state => { live.textContent = state === "open" ? "live" : state; live.setAttribute("data-live", state); },
    onEvent: event => {
      if (event.type === "stream.reset" || !event.data || typeof event.data !== "object" || event.data.run_id !== id) return;
      if (buffer) buffer.push(event.data); else apply(event.data);
      if (event.type.startsWith("run.") || event.type.startsWith("compensation.") || event.type.startsWith("activity.")) refreshSummary();
    },
  });
  const fallback = setTimeout(begin, 3000);
  const ticker = setInterval(() => { if (!TERMINAL.has(summary.status)) { redrawTimeline(); renderSummary(); } }, 1000);
  return () => { stop(); clearTimeout(fallback); clearInterval(ticker); };
}
