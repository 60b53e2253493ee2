// #/dead-letters: event starts a workflow refused, events whose trigger failed, notifications
// whose delivery failed (newest first, by workflow, a page at a time);
// #/dead-letters/<id>: one, whole.
import {api, enc} from "./api.js";
import {el, link, table, time, pre, button, clip} from "./dom.js";

export async function deadLettersPage(view, {query}) {
  const workflow = query.get("workflow");
  const body = el("tbody");
  const more = el("div", {class: "paging"});
  view.append(el("h1", {}, "Dead letters", workflow ? ` of ${workflow}` : ""),
    el("table", {"data-list": "dead-letters"}, el("thead", {}, el("tr", {}, ["Dead letter", "Created", "Workflow", "Event", "Errors"].map(h => el("th", {}, h)))), body), more);
  async function load(after) {
    const q = new URLSearchParams({limit: "50"});
    if (workflow) q.set("workflow", workflow);
    if (after) q.set("after", after);
    const page = await api("/v1/dead-letters?" + q);
    for (const d of page.dead_letters) {
      body.append(el("tr", {}, el("td", {}, link(d.id, "dead-letters", d.id)), el("td", {}, time(d.created_at)), el("td", {}, d.workflow ?? ""),
        el("td", {}, d.event?.type ?? (d.notification ? `notification to ${d.notification.channel}` : "")), el("td", {}, clip((d.errors ?? []).join("; "), 160))));
    }
    more.replaceChildren(page.next ? button("More", () => load(page.next)) : "");
    if (body.childElementCount === 0) body.append(el("tr", {}, el("td", {colspan: 5, class: "muted"}, "No dead letters.")));
  }
  await load(null);
}

export async function deadLetterPage(view, {id}) {
  const letter = await api(`/v1/dead-letters/${enc(id)}`);
  view.append(el("h1", {}, "Dead letter ", el("code", {}, letter.id)),
    el("p", {}, "Workflow ", letter.workflow ? link(letter.workflow, "workflows", letter.workflow) : "", " · ", letter.kind ?? "", " · ", time(letter.created_at)),
    el("h2", {}, "Errors"), el("ul", {}, (letter.errors ?? []).map(e => el("li", {}, e))));
  if (letter.notification) {
    view.append(el("h2", {}, "Notification"), pre(letter.notification));
  } else {
    view.append(el("h2", {}, "Event"), pre(letter.event));
    if (letter.kind !== "trigger_failed") view.append(el("h2", {}, "Input the trigger built"), pre(letter.input));
  }
}
