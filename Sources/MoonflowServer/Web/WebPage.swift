/// The web page `GET /` serves (SPEC §11): workflows, runs with their activities coloured by
/// status and their timeline, the task inbox with forms generated from the tasks' JSON Schemas,
/// and the monitoring figures. Static HTML and JavaScript over the API; it holds no data, so it
/// is served without a token and asks for one (kept in the browser's local storage).
enum WebPage {
    static let html = #"""
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>Moonflow</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
    body{font:14px system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
    header{background:#223;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
    header input{width:320px} main{display:grid;grid-template-columns:1fr 1fr;gap:12px;padding:12px}
    section{background:#fff;border-radius:6px;padding:10px;box-shadow:0 1px 2px #0002}
    h2{font-size:15px;margin:0 0 8px} table{width:100%;border-collapse:collapse} td,th{padding:3px 6px;text-align:left;border-bottom:1px solid #eee}
    .s{padding:1px 6px;border-radius:8px;color:#fff;font-size:12px}
    .completed,.completed_via_fallback,.closed{background:#2a7}.running,.scheduled,.half_open{background:#27c}.waiting,.queued,.backoff,.pending{background:#c90}
    .failed,.timed_out,.compensation_failed,.open{background:#c33}.compensated,.compensating,.cancelled,.terminated,.skipped{background:#777}
    .err{color:#c33;white-space:pre-wrap;font-family:monospace} pre{background:#f3f3f3;padding:6px;overflow:auto;max-height:240px}
    a{cursor:pointer;color:#27c}
    </style></head><body>
    <header><b>Moonflow</b><label>Token <input id="token" type="password" placeholder="bearer token"></label><button onclick="refresh()">Refresh</button><span id="msg"></span></header>
    <main>
    <section><h2>Monitoring</h2><div id="monitoring"></div></section>
    <section><h2>Workflows</h2><div id="workflows"></div></section>
    <section><h2>Runs</h2><div id="runs"></div></section>
    <section><h2>Run</h2><div id="run">Pick a run.</div></section>
    <section><h2>Task inbox</h2><div id="tasks"></div></section>
    <section><h2>Task</h2><div id="task">Pick a task.</div></section>
    </main>
    <script>
    const $ = id => document.getElementById(id);
    const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
    const badge = s => `<span class="s ${esc(s)}">${esc(s)}</span>`;
    $("token").value = localStorage.getItem("moonflow.token") || "";
    $("token").onchange = () => { localStorage.setItem("moonflow.token", $("token").value); refresh(); };
    async function api(path, options = {}) {
      const headers = {"Content-Type": "application/json"};
      if ($("token").value) headers.Authorization = "Bearer " + $("token").value;
      const response = await fetch(path, {...options, headers});
      const body = await response.json();
      if (!response.ok) throw new Error(body.error ? `${body.error.type}: ${body.error.message}` : response.status);
      return body;
    }
    async function show(id, load) { try { $(id).innerHTML = await load(); } catch (e) { $(id).innerHTML = `<div class="err">${esc(e.message)}</div>`; } }
    function refresh() {
      show("monitoring", async () => { const m = await api("/v1/monitoring");
        return `<table><tr><td>Active runs</td><td>${m.active_total}</td></tr><tr><td>Completed today</td><td>${m.completed_today}</td></tr>
        <tr><td>Failed today</td><td>${m.failed_today}</td></tr><tr><td>Average duration</td><td>${m.average_duration_ms == null ? "–" : m.average_duration_ms.toFixed(1) + " ms"}</td></tr>
        <tr><td>Queue depth</td><td>${m.queue_depth}</td></tr>
        ${m.breakers.map(b => `<tr><td>Breaker ${esc(b.name)}</td><td>${badge(b.state)}</td></tr>`).join("")}
        ${m.bulkheads.map(b => `<tr><td>Bulkhead ${esc(b.name)}</td><td>${b.in_use}/${b.max_concurrent} in use, ${b.queued} queued</td></tr>`).join("")}</table>`; });
      show("workflows", async () => { const w = await api("/v1/workflows");
        return w.errors.map(e => `<div class="err">${esc(e.text)}</div>`).join("") + `<table><tr><th>Workflow</th><th>Version</th><th>Hash</th><th></th></tr>` +
          w.workflows.map(x => `<tr><td title="${esc(x.description)}">${esc(x.id)}</td><td>${esc(x.version)}</td><td>${esc(x.hash.slice(0, 10))}</td>
          <td><a onclick="startRun('${esc(x.id)}')">start…</a></td></tr>`).join("") + "</table>"; });
      show("runs", async () => { const r = await api("/v1/runs?limit=30");
        return "<table>" + r.runs.map(x => `<tr><td><a onclick="openRun('${esc(x.run_id)}')">${esc(x.run_id.slice(0, 12))}</a></td><td>${esc(x.workflow)}</td>
          <td>${badge(x.status)}</td><td>${esc(x.started_at)}</td></tr>`).join("") + "</table>"; });
      show("tasks", async () => { const t = await api("/v1/tasks");
        return "<table>" + t.tasks.map(x => `<tr><td><a onclick="openTask('${esc(x.id)}')">${esc(x.activity)}</a></td><td>${esc(x.run_id.slice(0, 12))}</td>
          <td>${esc([...x.users, ...x.groups].join(", "))}</td><td>${esc(x.due)}</td></tr>`).join("") + "</table>"; });
    }
    async function startRun(id) {
      const input = prompt(`Input for ${id} (JSON)`, "{}"); if (input === null) return;
      try { const r = await api("/v1/runs", {method: "POST", body: JSON.stringify({workflow: id, input: JSON.parse(input)})}); openRun(r.run_id); refresh(); }
      catch (e) { $("msg").textContent = e.message; }
    }
    function openRun(id) {
      show("run", async () => { const r = await api(`/v1/runs/${id}/report`), h = await api(`/v1/runs/${id}/history`);
        return `<p>${esc(r.workflow)} ${badge(r.status)} ${r.duration_ms == null ? "" : r.duration_ms.toFixed(1) + " ms"}</p>` +
          (r.error ? `<div class="err">${esc(r.error.type)}: ${esc(r.error.message)}</div>` : "") +
          "<table><tr><th>Activity</th><th>Status</th><th>Attempts</th><th>ms</th></tr>" + r.activities.map(a => `<tr><td>${esc(a.name)}</td><td>${badge(a.status)}</td>
          <td>${a.attempts}</td><td>${a.duration_ms == null ? "" : a.duration_ms.toFixed(1)}</td></tr>`).join("") + "</table><h2>Timeline</h2><pre>" +
          h.events.map(e => `${e.at_iso}  ${e.type}${e.activity ? " " + e.activity : ""}${e.attempt ? " #" + e.attempt : ""}${e.type === "activity.log" ? "  " + e.data.level + ": " + JSON.stringify(e.data.message).slice(1, -1) : ""}`).map(esc).join("\n") + "</pre>"; });
    }
    function field(name, schema, required) {
      const label = `<label>${esc(schema.title || name)}${required ? " *" : ""}</label><br>`;
      if (schema.enum) return label + `<select name="${esc(name)}" data-type="enum">${schema.enum.map(v => `<option value='${esc(JSON.stringify(v))}'>${esc(v)}</option>`).join("")}</select><br>`;
      if (schema.type === "boolean") return `<label><input type="checkbox" name="${esc(name)}" data-type="boolean"> ${esc(schema.title || name)}</label><br>`;
      if (schema.type === "integer" || schema.type === "number") return label + `<input type="number" name="${esc(name)}" data-type="${schema.type}" step="${schema.type === "integer" ? 1 : "any"}"><br>`;
      if (schema.type === "string") return label + `<input name="${esc(name)}" data-type="string"><br>`;
      return label + `<textarea name="${esc(name)}" data-type="json">null</textarea><br>`;
    }
    function openTask(id) {
      show("task", async () => { const t = await api(`/v1/tasks/${id}`), form = t.form || {type: "object"}, props = form.properties || {};
        const required = new Set(form.required || []);
        return `<p>${esc(t.activity)} of run ${esc(t.run_id)} ${badge(t.status)}</p><form id="taskform">` +
          Object.entries(props).map(([n, s]) => field(n, s, required.has(n))).join("") +
          (Object.keys(props).length ? "" : `<textarea name="" data-type="json">{}</textarea><br>`) +
          `<button type="button" onclick="completeTask('${esc(id)}')">Complete</button></form>`; });
    }
    async function completeTask(id) {
      let data = {};
      for (const el of document.querySelectorAll("#taskform [name]")) {
        const t = el.dataset.type, v = t === "boolean" ? el.checked : t === "enum" || t === "json" ? JSON.parse(el.value)
          : t === "integer" || t === "number" ? (el.value === "" ? undefined : Number(el.value)) : el.value;
        if (el.name === "") data = v; else if (v !== undefined && v !== "") data[el.name] = v;
      }
      try { const r = await api(`/v1/tasks/${id}/complete`, {method: "POST", body: JSON.stringify({data})}); $("task").textContent = `Completed; the run is ${r.run_status}.`; refresh(); }
      catch (e) { $("msg").textContent = e.message; }
    }
    refresh();
    setInterval(refresh, 5000);
    </script></body></html>
    """#
}
