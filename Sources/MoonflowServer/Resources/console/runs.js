// #/runs: newest first, filtered by workflow, status and age (in the route's query, so a filtered
// list can be linked), a page at a time.
import {api, enc} from "./api.js";
import {el, link, badge, table, time, duration, button} from "./dom.js";

export const RUN_STATUSES = ["queued", "running", "waiting", "paused", "compensating", "completed", "failed", "compensated",
  "compensation_failed", "timed_out", "cancelled", "terminated"];
const AGES = [["", "any time"], ["900", "last 15 minutes"], ["3600", "last hour"], ["86400", "last day"], ["604800", "last week"]];

function select(name, choices, current) {
  const node = el("select", {name});
  for (const [value, text] of choices) {
    const option = el("option", {}, text);
    option.value = value;
    node.append(option);
  }
  node.value = current ?? "";
  return node;
}

export async function runsPage(view, {query}) {
  const workflows = await api("/v1/workflows").catch(() => ({workflows: []}));
  const filters = {workflow: query.get("workflow") ?? "", status: query.get("status") ?? "", since: query.get("since") ?? ""};
  const workflow = select("workflow", [["", "every workflow"], ...workflows.workflows.map(w => [w.id, w.id])], filters.workflow);
  const status = select("status", [["", "any status"], ...RUN_STATUSES.map(s => [s, s])], filters.status);
  const since = select("since", AGES, filters.since);
  const apply = () => {
    const q = new URLSearchParams();
    if (workflow.value) q.set("workflow", workflow.value);
    if (status.value) q.set("status", status.value);
    if (since.value) q.set("since", since.value);
    location.hash = "#/runs" + (q.toString() ? "?" + q : "");
  };
  for (const s of [workflow, status, since]) s.addEventListener("change", apply);
  const body = el("tbody");
  const more = el("div", {class: "paging"});
  view.append(el("h1", {}, "Runs"), el("div", {class: "filters"}, workflow, status, since, button("Refresh", () => load(null, true))),
    el("table", {"data-list": "runs"}, el("thead", {}, el("tr", {}, ["Run", "Workflow", "Status", "Queued", "Started", "Duration"].map(h => el("th", {}, h)))), body),
    more);
  // The list is newest first: once a page reaches a run older than the age asked for, no later
  // page can hold a newer one.
  const oldest = filters.since ? Date.now() - Number(filters.since) * 1000 : null;
  async function load(after, fresh = false) {
    const q = new URLSearchParams({limit: "50"});
    if (filters.workflow) q.set("workflow", filters.workflow);
    if (filters.status) q.set("status", filters.status);
    if (after) q.set("after", after);
    const page = await api("/v1/runs?" + q);
    if (fresh) body.replaceChildren();
    let reachedOld = false;
    for (const run of page.runs) {
      if (oldest !== null && Date.parse(run.queued_at) < oldest) { reachedOld = true; break; }
      const ms = run.started_at ? (run.finished_at ? Date.parse(run.finished_at) : Date.now()) - Date.parse(run.started_at) : null;
      body.append(el("tr", {"data-run": run.run_id}, el("td", {}, link(run.run_id, "runs", run.run_id)), el("td", {}, run.workflow),
        el("td", {}, badge(run.status)), el("td", {}, time(run.queued_at)), el("td", {}, time(run.started_at)), el("td", {}, duration(ms))));
    }
    more.replaceChildren();
    if (page.next && !reachedOld) more.append(button("More", () => load(page.next), {"data-more": ""}));
    if (body.childElementCount === 0) body.append(el("tr", {}, el("td", {colspan: 6, class: "muted"}, "No runs.")));
  }
  await load(null, true);
}
