---@meta moonflow
-- Definitions of what a Moonflow code action sees, for lua-language-server (https://luals.github.io).
-- Kept in sync with the sandbox by Tests/MoonflowLuaTests (EditorDefinitionTests).
-- Of Lua's standard library only these exist: assert error ipairs next pairs pcall xpcall select
-- tonumber tostring type rawequal rawlen rawget rawset setmetatable getmetatable _VERSION
-- collectgarbage("count"), string (no dump), table, math, utf8, os.clock/os.time/os.difftime.
-- Suggested .luarc.json: { "runtime.version": "Lua 5.4", "runtime.builtin": { "io": "disable",
-- "debug": "disable", "package": "disable", "coroutine": "disable" } }

---The activity input.
---@type table
input = {}

---Context variables of the run: read and write; writes are kept only if the activity succeeds.
---@type table
workflow = {}

---Outputs and statuses of finished steps (read-only): `steps.<name>.output`, `steps.<name>.status`.
---@type table<string, {output: any, status: string}>
steps = {}

---The running activity (read-only).
---@type {name: string, attempt: integer, idempotency_key: string, run: {id: string, workflow: string, version: integer}}
activity = {}

---The trigger event, when a trigger started the run (read-only).
---@type table?
event = nil

json = {}

---Encodes a value as compact JSON (object keys sorted).
---@param value any
---@return string
function json.encode(value) end

---Decodes JSON text (null becomes nil).
---@param text string
---@return any
function json.decode(text) end

log = {}

---@param message any
---@param fields? table
function log.debug(message, fields) end

---@param message any
---@param fields? table
function log.info(message, fields) end

---@param message any
---@param fields? table
function log.warn(message, fields) end

---@param message any
---@param fields? table
function log.error(message, fields) end

time = {}

---The current time, ISO 8601 in UTC with milliseconds (`2024-05-01T12:00:00.000Z`).
---@return string
function time.now() end

---Seconds since the Unix epoch.
---@return integer
function time.unix() end

---Seconds since the Unix epoch of an ISO 8601 time (`YYYY-MM-DD[THH:MM[:SS[.fff]](Z|±HH:MM)]`).
---@param iso string
---@return number
function time.parse(iso) end

---A random UUID (version 4, lowercase).
---@return string
function uuid() end

base64 = {}

---@param data string
---@return string
function base64.encode(data) end

---@param text string
---@return string
function base64.decode(text) end

hex = {}

---@param data string
---@return string
function hex.encode(data) end

---@param text string
---@return string
function hex.decode(text) end

hash = {}

---SHA-256 of a string, as lowercase hex.
---@param data string
---@return string
function hash.sha256(data) end

hmac = {}

---HMAC-SHA-256 of a string under a key, as lowercase hex.
---@param key string
---@param data string
---@return string
function hmac.sha256(key, data) end

---Publishes an event (kept only if the activity succeeds); it may trigger workflows.
---@param type string
---@param payload? table
function emit(type, payload) end

---Fails the attempt with a typed error (`retryable` is left to the policy).
---@param type string
---@param message? string
---@param details? any
function fail(type, message, details) end

http = {}

---@class moonflow.HttpRequest
---@field connection string A connection of moonflow.yaml.
---@field method? string GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
---@field path? string Relative to the connection's url.
---@field query? table<string, string|number|boolean>
---@field headers? table<string, string|number|boolean>
---@field json? any Sent as JSON (not with `body`).
---@field body? string Sent as text (not with `json`).
---@field timeout? string|number At most the connection's timeout (`5s`, or seconds).

---@class moonflow.HttpResponse
---@field status integer
---@field headers table<string, string> Lowercased names.
---@field json? any When the response is JSON.
---@field body? string Otherwise.

---Makes a request through a connection and returns the answer, whatever its status. Raises a typed
---error (`HttpConnectError`, `Timeout`, `EgressDenied`, `ResponseTooLarge`) when there is none.
---Sends `Idempotency-Key: <activity.idempotency_key>:<n>` for the n-th request of the execution.
---@param request moonflow.HttpRequest
---@return moonflow.HttpResponse
function http.request(request) end

-- ============================================================================================
-- TEST-ONLY. Present only when the runner was started with MOONFLOW_TEST_LEDGER=/path set (crash
-- tests); in every other run `test` is nil. Never use it in a real workflow.
-- ============================================================================================

test = {}

---Appends one JSON line `{"run": …, "activity": …, "attempt": …, "tag": …, "unix_ns": …}` (from this
---activity's `run.id`, `name` and `attempt`) to the ledger file and fsyncs it before returning.
---@param tag string
function test.ledger(tag) end
