// #/workflows (what is served, versions, triggers, the last load's errors) and #/workflows/<id>
// (its graph, versions, files, and starting a run with a form generated from its input schema).
import {api, enc} from "./api.js";
import {el, link, button, table, section, time, clip} from "./dom.js";
import {drawGraph} from "./graph.js";
import {schemaForm, serverErrors} from "./schema-form.js";
import {say} from "./ui.js";

export function triggerText(trigger) {
  if (trigger.manual) return "manual";
  if (trigger.schedule) return `schedule ${trigger.schedule.cron}${trigger.schedule.timezone ? " " + trigger.schedule.timezone : ""}`;
  if (trigger.event) return `event ${trigger.event}`;
  return JSON.stringify(trigger);
}

const diagnostics = errors => errors.length === 0 ? null :
  el("div", {class: "diagnostics", "data-diagnostics": ""},
    el("h3", {}, "Validation errors (the previous version keeps serving)"),
    el("ul", {}, errors.map(e => el("li", {}, el("code", {}, e.text ?? `${e.file}:${e.line}: ${e.message}`)))));

export async function workflowsPage(view) {
  const w = await api("/v1/workflows");
  view.append(el("h1", {}, "Workflows"), diagnostics(w.errors ?? []) ?? "",
    table(["Workflow", "Version", "Versions served", "Triggers", "Activities", "Description"],
      w.workflows.map(x => [link(x.id, "workflows", x.id), x.version ?? "", String(x.versions), x.triggers.map(triggerText).join(", "),
        String(x.activities.length), x.description ?? ""]), {"data-list": "workflows"}));
}

export async function workflowPage(view, {id}) {
  const w = await api(`/v1/workflows/${enc(id)}`);
  view.append(el("h1", {}, "Workflow ", el("code", {}, w.id), w.version ? el("span", {class: "muted"}, " version " + w.version) : ""));
  if (w.deleted) view.append(el("p", {class: "error"}, "Its file is gone: no new runs; old runs keep their version."));
  if (w.description) view.append(el("p", {}, w.description));
  view.append(diagnostics(w.errors ?? []) ?? "");
  const actions = el("div", {class: "actions"}, link("Runs of this workflow", "runs"));
  actions.lastChild.href = "#/runs?workflow=" + enc(w.id);
  const starter = el("div", {class: "start"});
  if (!w.deleted) actions.append(button("Start a run…", () => openStart(starter, w), {"data-action": "start"}));
  view.append(actions, starter);
  if (w.graph) view.append(section("Graph", el("div", {class: "graph-frame"}, drawGraph(w.graph))));
  view.append(section("Triggers", el("ul", {}, (w.triggers ?? []).map(t => el("li", {}, triggerText(t))))));
  view.append(section("Versions", table(["Version", "Hash", "Loaded", ""],
    (w.versions ?? []).map(v => [v.version ?? "", el("code", {title: v.hash}, clip(v.hash, 14)), time(v.loaded_at), v.current ? "current" : ""]))));
  if (w.files) {
    view.append(section("Files", Object.entries(w.files).map(([path, text]) => el("details", {}, el("summary", {}, path), el("pre", {}, text)))));
  }
}

function openStart(container, w) {
  const form = schemaForm(w.input_schema ?? {type: "object"});
  const runID = el("input", {name: "run_id", placeholder: "optional: a run id (idempotent start)"});
  const submit = button("Start", async () => {
    const {value, errors} = form.read();
    if (errors.length > 0) return;
    submit.disabled = true;
    try {
      const body = {workflow: w.id, input: value};
      if (runID.value.trim()) body.run_id = runID.value.trim();
      const started = await api("/v1/runs", {method: "POST", body});
      location.hash = "#/runs/" + enc(started.run_id);
    } catch (error) {
      const lines = error.details?.errors ?? (Array.isArray(error.details) ? error.details : null);
      if (lines) form.showErrors(serverErrors(lines)); else say(`${error.type}: ${error.message}`);
      submit.disabled = false;
    }
  }, {class: "primary", "data-submit": "start"});
  container.replaceChildren(el("div", {class: "panel", "data-form": "start"}, el("h2", {}, "Start ", w.id), form.node,
    el("label", {}, "Run id"), runID, el("div", {class: "buttons"}, submit, button("Cancel", () => container.replaceChildren()))));
}
