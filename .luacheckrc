-- luacheck configuration of the example project's code actions (scripts/*.lua): the globals of
-- Moonflow's Lua sandbox, as scripts/moonflow.d.lua lists them for lua-language-server
-- (EditorConfigTests keeps the two in step). Lua's own globals are limited to what the sandbox
-- keeps, so `io.open`, `os.execute`, `require` or `load` are reported as undefined, as they are when
-- the script runs. `luacheck scripts/` from the project root uses it.

std = "moonflow"
exclude_files = {"scripts/moonflow.d.lua"} -- a definition file: globals assigned, arguments unused
max_line_length = 120

stds.moonflow = {
	read_globals = {
		-- Lua 5.4, as the sandbox keeps it (docs/sandbox.md, "What a script sees").
		"_VERSION", "assert", "collectgarbage", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
		"rawequal", "rawget", "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring", "type",
		"xpcall",
		string = {fields = {
			"byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "pack", "packsize",
			"rep", "reverse", "sub", "unpack", "upper",
		}},
		table = {fields = {"concat", "insert", "move", "pack", "remove", "sort", "unpack"}},
		math = {fields = {
			"abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log", "max", "maxinteger", "min",
			"mininteger", "modf", "pi", "rad", "random", "randomseed", "sin", "sqrt", "tan", "tointeger", "type",
			"ult", "acos", "asin", "atan",
		}},
		utf8 = {fields = {"char", "charpattern", "codepoint", "codes", "len", "offset"}},
		os = {fields = {"clock", "difftime", "time"}},

		-- The invocation (scripts/moonflow.d.lua): `workflow` is the only one a script writes to.
		input = {other_fields = true},
		workflow = {other_fields = true, read_only = false},
		steps = {other_fields = true},
		activity = {other_fields = true},
		event = {other_fields = true},

		-- The built-ins (scripts/moonflow.d.lua; `test` exists only in crash tests and is left out).
		json = {fields = {"encode", "decode"}},
		log = {fields = {"debug", "info", "warn", "error"}},
		time = {fields = {"now", "unix", "parse"}},
		"uuid",
		base64 = {fields = {"encode", "decode"}},
		hex = {fields = {"encode", "decode"}},
		hash = {fields = {"sha256"}},
		hmac = {fields = {"sha256"}},
		http = {fields = {"request"}},
		"emit",
		"fail",
	},
}
