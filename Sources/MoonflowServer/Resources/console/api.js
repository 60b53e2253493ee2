// The API from the page: the bearer token (kept in this tab's session storage, never in local
// storage) goes in a header; a 401 asks for it again.
const KEY = "moonflow.token";

export const token = () => sessionStorage.getItem(KEY) ?? "";
export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, type, message, details) {
    super(message);
    this.status = status;
    this.type = type;
    this.details = details;
  }
}

function headers(extra = {}) {
  const h = {Accept: "application/json", ...extra};
  if (token()) h.Authorization = "Bearer " + token();
  return h;
}

function unauthorized() { window.dispatchEvent(new CustomEvent("moonflow:unauthorized")); }

/** Calls the API; resolves to the JSON body, rejects with an ApiError. */
export async function api(path, {method = "GET", body, signal} = {}) {
  const init = {method, headers: headers(body === undefined ? {} : {"Content-Type": "application/json"}), signal,
    credentials: "omit", cache: "no-store"};
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  let value = null;
  try { value = await response.json(); } catch { value = null; }
  if (response.status === 401) unauthorized();
  if (!response.ok) {
    const error = value?.error ?? {};
    throw new ApiError(response.status, error.type ?? String(response.status), error.message ?? response.statusText, error.details);
  }
  return value;
}

export const enc = encodeURIComponent;

const pause = (ms, signal) => new Promise(resolve => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, {once: true});
});

/**
 * Follows `GET /v1/events/stream?<query>` with fetch (EventSource cannot send the token):
 * `onEvent({id, type, data})` for each event, `onOpen()` once the subscription is in place (the
 * stream's first comment). After a dropped connection it reconnects with `Last-Event-ID`, so
 * nothing is missed or repeated. Returns the function that stops it.
 */
export function followEvents(query, {onEvent, onOpen = () => {}, onState = () => {}, lastEventId = null}) {
  const controller = new AbortController();
  const signal = controller.signal;
  let last = lastEventId;
  (async () => {
    let delay = 500;
    while (!signal.aborted) {
      try {
        const h = headers({Accept: "text/event-stream"});
        if (last !== null) h["Last-Event-ID"] = last;
        const response = await fetch("/v1/events/stream?" + query, {headers: h, signal, credentials: "omit", cache: "no-store"});
        if (response.status === 401) { unauthorized(); onState("closed"); return; }
        if (!response.ok) throw new Error(`event stream: ${response.status}`);
        onState("open");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "", opened = false;
        let event = {id: null, type: "message", data: []};
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          buffer += value;
          let newline;
          while ((newline = buffer.indexOf("\n")) >= 0) {
            const line = buffer.slice(0, newline).replace(/\r$/, "");
            buffer = buffer.slice(newline + 1);
            if (line === "") {
              if (event.data.length > 0) {
                if (event.id !== null) last = event.id;
                let data = null;
                try { data = JSON.parse(event.data.join("\n")); } catch { data = event.data.join("\n"); }
                onEvent({id: event.id, type: event.type, data});
              }
              event = {id: null, type: "message", data: []};
            } else if (line.startsWith(":")) {
              if (!opened) { opened = true; delay = 500; onOpen(); }
            } else {
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (field === "id") event.id = text;
              else if (field === "event") event.type = text;
              else if (field === "data") event.data.push(text);
            }
          }
        }
      } catch (error) {
        if (signal.aborted) return;
      }
      onState("reconnecting");
      await pause(delay, signal);
      delay = Math.min(delay * 2, 10000);
    }
  })();
  return () => controller.abort();
}
