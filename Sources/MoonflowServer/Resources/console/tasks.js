// #/tasks (the caller's inbox: open tasks, or all) and #/tasks/<id> (the task, its due date and
// reminders, and a form generated from its JSON Schema, checked here and by the server).
import {api, enc} from "./api.js";
import {el, link, badge, button, table, section, time, pre} from "./dom.js";
import {schemaForm, serverErrors} from "./schema-form.js";
import {say} from "./ui.js";

function due(task) {
  if (!task.due) return "";
  const overdue = task.status === "open" && Date.parse(task.due) < Date.now();
  return el("span", {class: overdue ? "overdue" : "", "data-due": task.due}, time(task.due), overdue ? " (overdue)" : "");
}

export async function tasksPage(view, {query}) {
  const status = query.get("status") ?? "open";
  const tasks = await api("/v1/tasks?status=" + enc(status));
  const toggle = el("a", {}, status === "open" ? "Show every task" : "Show open tasks");
  toggle.href = status === "open" ? "#/tasks?status=all" : "#/tasks";
  view.append(el("h1", {}, status === "open" ? "Open tasks" : "Every task"), el("p", {}, toggle),
    tasks.tasks.length === 0 ? el("p", {class: "muted"}, "No tasks.") :
      table(["Task", "Run", "Status", "Assignees", "Created", "Due", "Reminders"], tasks.tasks.map(t => [
        link(t.activity, "tasks", t.id), link(t.run_id, "runs", t.run_id), badge(t.status), [...t.users, ...t.groups.map(g => "group " + g)].join(", "),
        time(t.created_at), due(t), (t.reminders ?? []).map(time).join(", ")]), {"data-list": "tasks"}));
}

export async function taskPage(view, {id}) {
  const task = await api(`/v1/tasks/${enc(id)}`);
  view.append(el("h1", {}, "Task ", el("code", {}, task.activity)),
    el("p", {}, "Run ", link(task.run_id, "runs", task.run_id), " · attempt ", String(task.attempt), " · ", badge(task.status, {"data-task-status": task.status})),
    el("p", {class: "muted"}, "Assigned to ", [...task.users, ...task.groups.map(g => "group " + g)].join(", ") || "anyone",
      " · created ", time(task.created_at)),
    task.due ? el("p", {}, "Due ", due(task)) : "",
    (task.reminders ?? []).length ? el("p", {class: "muted"}, "Reminders: ", task.reminders.map(time).join(", ")) : "");
  if (task.status !== "open") {
    view.append(section("Submitted", task.completed_by ? el("p", {}, "By ", task.completed_by) : "", pre(task.data)));
    return;
  }
  const form = schemaForm(task.form ?? {type: "object"});
  const outcome = el("div", {"data-outcome": ""});
  const submit = button("Complete", async () => {
    const {value, errors} = form.read();
    if (errors.length > 0) return;
    submit.disabled = true;
    try {
      const result = await api(`/v1/tasks/${enc(id)}/complete`, {method: "POST", body: {data: value}});
      outcome.replaceChildren(el("p", {class: "info", "data-completed": ""}, "Completed; the run is ", badge(result.run_status), " ",
        link("open the run", "runs", result.run_id)));
      formPanel.remove();
    } catch (error) {
      if (error.type === "SchemaInvalid") form.showErrors(serverErrors(error.details?.errors));
      else say(`${error.type}: ${error.message}`);
      submit.disabled = false;
    }
  }, {class: "primary", "data-action": "complete", "data-submit": "complete"});
  const formPanel = el("div", {class: "panel", "data-form": "task"}, form.node, el("div", {class: "buttons"}, submit));
  view.append(section("Form", formPanel, outcome));
}
