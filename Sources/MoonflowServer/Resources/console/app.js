// The console's entry: hash routes (the server serves one page), the token dialog, confirmations,
// and each page's clean-up (its event stream and timers) when the route changes.
import {setToken, token} from "./api.js";
import {el} from "./dom.js";
import {say} from "./ui.js";
import {workflowsPage, workflowPage} from "./workflows.js";
import {runsPage} from "./runs.js";
import {runPage} from "./run.js";
import {tasksPage, taskPage} from "./tasks.js";
import {monitoringPage} from "./monitoring.js";
import {deadLettersPage, deadLetterPage} from "./dead-letters.js";

const main = document.getElementById("main");
let cleanup = null;

/** `#/runs/a%2Fb?status=failed` → {segments: ["runs", "a/b"], query: URLSearchParams}. */
export function parseRoute(hash) {
  const text = hash.replace(/^#\/?/, "");
  const mark = text.indexOf("?");
  const path = mark < 0 ? text : text.slice(0, mark);
  const segments = path.split("/").filter(s => s !== "").map(s => { try { return decodeURIComponent(s); } catch { return s; } });
  return {segments, query: new URLSearchParams(mark < 0 ? "" : text.slice(mark + 1))};
}

const routes = {
  "workflows": (s, q) => s.length === 1 ? workflowsPage : workflowPage,
  "runs": (s) => s.length === 1 ? runsPage : runPage,
  "tasks": (s) => s.length === 1 ? tasksPage : taskPage,
  "monitoring": () => monitoringPage,
  "dead-letters": (s) => s.length === 1 ? deadLettersPage : deadLetterPage,
};

async function render() {
  if (cleanup) { try { cleanup(); } catch { /* the page is gone either way */ } cleanup = null; }
  say("");
  main.setAttribute("data-ready", "false");
  const {segments, query} = parseRoute(location.hash);
  if (segments.length === 0 || !routes[segments[0]]) { location.replace("#/workflows"); return; }
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === segments[0]);
  const page = routes[segments[0]](segments, query);
  const view = el("div", {class: "page", "data-page": segments[0] + (segments.length > 1 ? "-detail" : "")});
  main.replaceChildren(view);
  try {
    cleanup = (await page(view, {id: segments[1], segments, query})) ?? null;
  } catch (error) {
    view.append(el("p", {class: "error"}, error.message));
  }
  main.setAttribute("data-ready", "true");
}

function askToken() {
  const dialog = document.getElementById("token-dialog");
  if (dialog.open) return;
  document.getElementById("token-input").value = token();
  dialog.returnValue = "";
  dialog.showModal();
}

document.getElementById("token-dialog").addEventListener("close", event => {
  if (event.target.returnValue !== "save") return;
  setToken(document.getElementById("token-input").value.trim());
  render();
});
document.getElementById("token-button").addEventListener("click", askToken);
window.addEventListener("moonflow:unauthorized", () => { say("A valid API token is needed."); askToken(); });
window.addEventListener("hashchange", render);
render();
