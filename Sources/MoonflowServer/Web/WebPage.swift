import Crypto
import Foundation

/// The web page `GET /` serves (docs/api.md): workflows, runs with their activities coloured by
/// status and their timeline, the task inbox with forms generated from the tasks' JSON Schemas,
/// and the monitoring figures. Static HTML and JavaScript over the API; it holds no data, so it
/// is served without a token and asks for one (kept in the browser's local storage).
///
/// Everything it shows comes from callers (run ids, task forms, workflow texts, errors), and the
/// page holds an admin's token, so it never turns data into markup or code: elements are built
/// with DOM calls, data goes in through `textContent` and property or attribute values (never an
/// `href`, `src` or `on…` attribute), handlers are `addEventListener` functions, and ids are
/// `encodeURIComponent`-ed into URLs. `contentSecurityPolicy` then allows only this page's own
/// script and style (by hash): no inline handler, `javascript:` URL or injected `<script>` would
/// run even if a mistake let markup through.
enum WebPage {
    static let style = """
        body{font:14px system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
        header{background:#223;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
        header input{width:320px} main{display:grid;grid-template-columns:1fr 1fr;gap:12px;padding:12px}
        section{background:#fff;border-radius:6px;padding:10px;box-shadow:0 1px 2px #0002}
        h2{font-size:15px;margin:0 0 8px} table{width:100%;border-collapse:collapse} td,th{padding:3px 6px;text-align:left;border-bottom:1px solid #eee}
        .s{padding:1px 6px;border-radius:8px;color:#fff;font-size:12px}
        .completed,.completed_via_fallback,.closed{background:#2a7}.running,.scheduled,.half_open{background:#27c}.waiting,.queued,.backoff,.pending{background:#c90}
        .failed,.timed_out,.compensation_failed,.open{background:#c33}.compensated,.compensating,.cancelled,.terminated,.skipped{background:#777}
        .err{color:#c33;white-space:pre-wrap;font-family:monospace} pre{background:#f3f3f3;padding:6px;overflow:auto;max-height:240px}
        button.link{background:none;border:none;padding:0;font:inherit;cursor:pointer;color:#27c;text-decoration:underline}
        """

    static let script = #"""
        "use strict";
        const $ = id => document.getElementById(id);
        // An element with attributes (values only; never a URL or handler attribute) and children
        // (nodes, or text put in as text).
        function el(tag, attributes = {}, ...children) {
          const node = document.createElement(tag);
          for (const [name, value] of Object.entries(attributes)) {
            if (value === undefined || value === null || value === false) continue;
            if (name === "class") node.className = value; else node.setAttribute(name, value === true ? "" : String(value));
          }
          for (const child of children.flat()) {
            if (child === undefined || child === null) continue;
            node.append(child instanceof Node ? child : document.createTextNode(String(child)));
          }
          return node;
        }
        function link(text, onClick) {
          const button = el("button", {type: "button", class: "link"}, text);
          button.addEventListener("click", onClick);
          return button;
        }
        const statusClass = s => String(s ?? "").replace(/[^a-z_]/g, "");
        const badge = s => el("span", {class: "s " + statusClass(s)}, s);
        const row = (...cells) => el("tr", {}, cells.map(c => el("td", {}, c)));
        const headRow = (...cells) => el("tr", {}, cells.map(c => el("th", {}, c)));
        const ms = v => typeof v === "number" ? v.toFixed(1) : "";
        const enc = encodeURIComponent;
        function say(text) { $("msg").textContent = text; }

        $("token").value = localStorage.getItem("moonflow.token") || "";
        $("token").addEventListener("change", () => { localStorage.setItem("moonflow.token", $("token").value); refresh(); });
        $("refresh").addEventListener("click", () => refresh());

        async function api(path, options = {}) {
          const headers = {};
          if (options.body !== undefined) headers["Content-Type"] = "application/json";
          if ($("token").value) headers.Authorization = "Bearer " + $("token").value;
          const response = await fetch(path, {...options, headers, credentials: "omit"});
          let body = null;
          try { body = await response.json(); } catch (e) { body = null; }
          if (!response.ok) throw new Error(body && body.error ? `${body.error.type}: ${body.error.message}` : String(response.status));
          return body;
        }
        async function show(id, load) {
          try { $(id).replaceChildren(await load()); }
          catch (e) { $(id).replaceChildren(el("div", {class: "err"}, e.message)); }
        }

        function refresh() {
          show("monitoring", async () => {
            const m = await api("/v1/monitoring");
            const h = m.last_hour;
            const pct = r => r == null ? "–" : (100 * r).toFixed(1) + " %";
            const pcts = d => d.p50 == null ? "–" : `${ms(d.p50)} / ${ms(d.p95)} / ${ms(d.p99)} ms`;
            return el("table", {},
              row("Active runs", m.active_total), row("Completed today", m.completed_today), row("Failed today", m.failed_today),
              row("Average duration", m.average_duration_ms == null ? "–" : ms(m.average_duration_ms) + " ms"),
              row("Last hour", `${h.runs_ended} runs ended, ${pct(h.success_rate)} ok, ${pct(h.error_rate)} errors, ${ms(h.runs_per_minute)}/min`),
              row("Run p50/p95/p99", pcts(h.run_duration_ms)), row("Activity p50/p95/p99", pcts(h.activity_duration_ms)),
              row("Queue depth", m.queue_depth),
              (m.breakers || []).map(b => row("Breaker " + b.name, badge(b.state))),
              (m.bulkheads || []).map(b => row("Bulkhead " + b.name, `${b.in_use}/${b.max_concurrent} in use, ${b.queued} queued`)));
          });
          show("workflows", async () => {
            const w = await api("/v1/workflows");
            const table = el("table", {}, headRow("Workflow", "Version", "Hash", ""));
            for (const x of w.workflows) {
              const name = el("td", {title: x.description ?? ""}, x.id);
              table.append(el("tr", {}, name, el("td", {}, x.version ?? ""), el("td", {}, String(x.hash ?? "").slice(0, 10)),
                el("td", {}, link("start…", () => startRun(x.id)))));
            }
            return el("div", {}, (w.errors || []).map(e => el("div", {class: "err"}, e.text)), table);
          });
          show("runs", async () => {
            const r = await api("/v1/runs?limit=30");
            return el("table", {}, r.runs.map(x => row(link(String(x.run_id).slice(0, 24), () => openRun(x.run_id)), x.workflow, badge(x.status), x.started_at ?? "")));
          });
          show("tasks", async () => {
            const t = await api("/v1/tasks");
            return el("table", {}, t.tasks.map(x => row(link(x.activity, () => openTask(x.id)), String(x.run_id).slice(0, 24),
              [...(x.users || []), ...(x.groups || [])].join(", "), x.due ?? "")));
          });
        }

        async function startRun(id) {
          const input = prompt(`Input for ${id} (JSON)`, "{}");
          if (input === null) return;
          try {
            const r = await api("/v1/runs", {method: "POST", body: JSON.stringify({workflow: id, input: JSON.parse(input)})});
            openRun(r.run_id);
            refresh();
          } catch (e) { say(e.message); }
        }

        function openRun(id) {
          show("run", async () => {
            const r = await api(`/v1/runs/${enc(id)}/report`), h = await api(`/v1/runs/${enc(id)}/history`);
            const timeline = h.events.map(e => `${e.at_iso}  ${e.type}${e.activity ? " " + e.activity : ""}${e.attempt ? " #" + e.attempt : ""}${e.type === "activity.log" ? "  " + e.data.level + ": " + JSON.stringify(String(e.data.message)).slice(1, -1) : ""}`).join("\n");
            return el("div", {},
              el("p", {}, r.workflow, " ", badge(r.status), " ", r.duration_ms == null ? "" : ms(r.duration_ms) + " ms"),
              r.error ? el("div", {class: "err"}, `${r.error.type}: ${r.error.message}`) : null,
              el("table", {}, headRow("Activity", "Status", "Attempts", "ms"),
                r.activities.map(a => row(a.name, badge(a.status), a.attempts, ms(a.duration_ms)))),
              el("h2", {}, "Timeline"), el("pre", {}, timeline));
          });
        }

        function field(name, schema, required) {
          schema = schema && typeof schema === "object" ? schema : {};
          const title = String(schema.title || name) + (required ? " *" : "");
          let input;
          if (Array.isArray(schema.enum)) {
            input = el("select", {name, "data-type": "enum"});
            for (const value of schema.enum) {
              const option = el("option", {}, typeof value === "string" ? value : JSON.stringify(value));
              option.value = JSON.stringify(value);
              input.append(option);
            }
          } else if (schema.type === "boolean") {
            return el("div", {}, el("label", {}, el("input", {type: "checkbox", name, "data-type": "boolean"}), " ", title));
          } else if (schema.type === "integer" || schema.type === "number") {
            input = el("input", {type: "number", name, "data-type": schema.type, step: schema.type === "integer" ? "1" : "any"});
          } else if (schema.type === "string") {
            input = el("input", {name, "data-type": "string"});
          } else {
            input = el("textarea", {name, "data-type": "json"}, "null");
          }
          return el("div", {}, el("label", {}, title), el("br"), input);
        }

        function openTask(id) {
          show("task", async () => {
            const t = await api(`/v1/tasks/${enc(id)}`), form = t.form || {type: "object"};
            const props = form.properties && typeof form.properties === "object" ? form.properties : {};
            const required = new Set(Array.isArray(form.required) ? form.required : []);
            const formNode = el("form", {id: "taskform"});
            for (const [name, schema] of Object.entries(props)) formNode.append(field(name, schema, required.has(name)));
            if (Object.keys(props).length === 0) formNode.append(el("textarea", {name: "", "data-type": "json"}, "{}"));
            formNode.append(el("br"), link("Complete", () => completeTask(id)));
            formNode.addEventListener("submit", event => event.preventDefault());
            return el("div", {}, el("p", {}, t.activity, " of run ", t.run_id, " ", badge(t.status)), formNode);
          });
        }

        async function completeTask(id) {
          let data = {};
          try {
            for (const node of document.querySelectorAll("#taskform [data-type]")) {
              const type = node.dataset.type;
              const value = type === "boolean" ? node.checked : type === "enum" || type === "json" ? JSON.parse(node.value)
                : type === "integer" || type === "number" ? (node.value === "" ? undefined : Number(node.value)) : node.value;
              if (node.name === "") data = value; else if (value !== undefined && value !== "") data[node.name] = value;
            }
            const r = await api(`/v1/tasks/${enc(id)}/complete`, {method: "POST", body: JSON.stringify({data})});
            $("task").textContent = `Completed; the run is ${r.run_status}.`;
            refresh();
          } catch (e) { say(e.message); }
        }

        refresh();
        setInterval(refresh, 5000);
        """#

    static let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Moonflow</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>\(style)</style></head><body>
        <header><b>Moonflow</b><label>Token <input id="token" type="password" placeholder="bearer token" autocomplete="off"></label><button id="refresh" type="button">Refresh</button><span id="msg"></span></header>
        <main>
        <section><h2>Monitoring</h2><div id="monitoring"></div></section>
        <section><h2>Workflows</h2><div id="workflows"></div></section>
        <section><h2>Runs</h2><div id="runs"></div></section>
        <section><h2>Run</h2><div id="run">Pick a run.</div></section>
        <section><h2>Task inbox</h2><div id="tasks"></div></section>
        <section><h2>Task</h2><div id="task">Pick a task.</div></section>
        </main>
        <script>\(script)</script></body></html>
        """

    /// Only this page's own script and style run (by hash: no `'unsafe-inline'`, no inline
    /// handlers); it may call its own origin only, and cannot be framed or post forms anywhere.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src '\(hash(script))'; style-src '\(hash(style))'; connect-src 'self'; img-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// A CSP source for an inline element's exact text.
    static func hash(_ text: String) -> String {
        "sha256-" + Data(SHA256.hash(data: Array(text.utf8))).base64EncodedString()
    }
}
