import MoonflowLua
import MoonflowModel
import Testing

/// An attack and what must come of it: the exact error type, or the safe result.
struct Attack: CustomTestStringConvertible, Sendable {
    enum Expect: Sendable {
        case fails(ErrorType)
        case returns(Value)
    }

    var name: String
    var source: String
    var expect: Expect
    var limits: ScriptLimits = attackLimits

    init(_ name: String, _ source: String, _ expect: Expect, limits: ScriptLimits = attackLimits) {
        self.name = name
        self.source = source
        self.expect = expect
        self.limits = limits
    }

    var testDescription: String { name }
}

private let bigElseif = "local x = 1\nif x == 0 then x = 0\n" + String(repeating: "elseif x == 2 then x = 3\n", count: 45_000) + "end\nreturn x"

enum AttackCorpus {
    static let escapes: [Attack] = [
        Attack("io.open", "return io.open('/etc/passwd')", .fails(.activityError)),
        Attack("os.execute", "return os.execute('id')", .fails(.activityError)),
        Attack("os.exit", "os.exit(1)", .fails(.activityError)),
        Attack("os.getenv", "return os.getenv('HOME')", .fails(.activityError)),
        Attack("os.remove", "return os.remove('/tmp/x')", .fails(.activityError)),
        Attack("debug library", "return debug.getinfo(1)", .fails(.activityError)),
        Attack("package.loadlib", "return package.loadlib('libc.so.6', 'system')", .fails(.activityError)),
        Attack("require", "return require('os')", .fails(.activityError)),
        Attack("load", "return load('return 1')()", .fails(.activityError)),
        Attack("load binary mode", "return load(string.char(27) .. 'Lua', 'x', 'b')", .fails(.activityError)),
        Attack("loadstring", "return loadstring('return 1')", .fails(.activityError)),
        Attack("dofile", "return dofile('/etc/passwd')", .fails(.activityError)),
        Attack("loadfile", "return loadfile('/etc/passwd')", .fails(.activityError)),
        Attack("bytecode as source", "\u{1B}Lua\u{54}\u{00}", .fails(.activityError)),
        Attack("string.dump", "return string.dump(function() end)", .fails(.activityError)),
        Attack("(\"\").dump", "return (''):dump(function() end)", .fails(.activityError)),
        Attack("string metatable answers false", "return getmetatable('')", .returns(false)),
        Attack("string metatable not writable", "getmetatable('').__index = {}", .fails(.activityError)),
        Attack("setmetatable on a string", "setmetatable('', {})", .fails(.activityError)),
        Attack("no _G", "return type(_G)", .returns("nil")),
        Attack("pairs(_G)", "for k in pairs(_G) do end", .fails(.activityError)),
        Attack("pairs(_ENV) shows only the invocation", """
            local names = {}
            for k in pairs(_ENV) do names[#names + 1] = k end
            table.sort(names)
            return table.concat(names, ",")
            """, .returns("activity,input,steps,workflow")),
        Attack("getmetatable(_ENV)", "return getmetatable(_ENV)", .returns(false)),
        Attack("_ENV replaced", "_ENV = {leak = 1}; leak = 2; return leak", .returns(2)),
        Attack("library table write", "string.leak = 1", .fails(.sandboxViolation)),
        Attack("rawset into a library proxy", "rawset(string, 'leak', 1)", .fails(.sandboxViolation)),
        Attack("rawset through pairs state", "local _, t = pairs(table); rawset(t, 'leak', 1)", .fails(.sandboxViolation)),
        Attack("raw next over a proxy", "local n = pairs({}) local k, v = n(string) return type(k) .. type(v)", .returns("stringfunction")),
        Attack("next over steps hides the target", "local k, v = next(steps) rawset(v, 'x', 1)", .fails(.sandboxViolation)),
        Attack("setmetatable on a library proxy", "setmetatable(math, {})", .fails(.sandboxViolation)),
        Attack("table.insert into a library proxy", "table.insert(string, 'x')", .fails(.sandboxViolation)),
        Attack("steps is read-only", "steps.fetch.output.n = 2", .fails(.sandboxViolation)),
        Attack("rawset into steps", "rawset(steps, 'x', 1)", .fails(.sandboxViolation)),
        Attack("coroutine", "return coroutine.create(function() end)", .fails(.activityError)),
        Attack("print", "print('x')", .fails(.activityError)),
        Attack("collectgarbage collect", "collectgarbage()", .fails(.sandboxViolation)),
        Attack("collectgarbage generational", "collectgarbage('generational')", .fails(.sandboxViolation)),
        Attack("tostring without address", "return tostring({}) .. ' ' .. tostring(print or type)", .returns("table function")),
        Attack("format %p", "return string.format('%p', {})", .fails(.activityError)),
        Attack("format %s of a table", "return string.format('%s|%5s', {}, 'a')", .returns("table|    a")),
        Attack("__gc refused", "setmetatable({}, {__gc = function() end})", .fails(.sandboxViolation)),
        Attack("__mode refused", "setmetatable({}, {__mode = 'k'})", .fails(.sandboxViolation)),
        Attack("__close refused", "setmetatable({}, {__close = function() end})", .fails(.sandboxViolation)),
        Attack("protected metatable", "local t = setmetatable({}, {__metatable = 1}); setmetatable(t, {})", .fails(.sandboxViolation)),
        // Lua reads __mode at each collection and __close when a variable closes: a metatable the script
        // still holds must not gain them after setmetatable checked it.
        Attack("__mode added after setmetatable is inert", """
            local mt = {} local t = setmetatable({}, mt) mt.__mode = 'k'
            local k = {} t[k] = 1 k = nil
            for i = 1, 3e5 do local garbage = {} end
            local n = 0 for _ in pairs(t) do n = n + 1 end return n
            """, .returns(1)),
        Attack("__gc added through getmetatable", "local t = setmetatable({}, {}) getmetatable(t).__gc = function() while true do end end t = nil for i = 1, 3e5 do local g = {} end return 1", .returns(1)),
        Attack("rawset of __mode into a metatable in use", "local mt = {} local t = setmetatable({}, mt) rawset(mt, '__mode', 'v') t[1] = {} for i = 1, 3e5 do local g = {} end return #t", .returns(1)),
        Attack("getmetatable answers the table given", "local mt = {} return getmetatable(setmetatable({}, mt)) == mt", .returns(true)),
        Attack("metatable replaceable after capture", "local t = setmetatable({}, {}) setmetatable(t, {__index = {a = 1}}) return t.a", .returns(1)),
        Attack("metamethods are captured when set", "local mt = {} local t = setmetatable({}, mt) mt.__index = function() return 1 end return t.x == nil", .returns(true)),
        Attack("class inheritance", """
            local Base = {} Base.__index = Base
            function Base.new(v) return setmetatable({v = v}, Base) end
            function Base:get() return self.v end
            local Derived = setmetatable({}, {__index = Base}) Derived.__index = Derived
            return setmetatable({v = 5}, Derived):get() + Base.new(2):get()
            """, .returns(7)),
    ]

    static let denialOfService: [Attack] = [
        Attack("busy loop", "while true do end", .fails(.luaInstructionLimit)),
        Attack("loop inside pcall", "local ok = pcall(function() while true do end end) return ok", .fails(.luaInstructionLimit)),
        Attack("pcall swallowing in a loop", "while true do pcall(function() while true do end end) end", .fails(.luaInstructionLimit)),
        Attack("loop in xpcall handler", "xpcall(function() error('x') end, function() while true do end end)", .fails(.luaInstructionLimit)),
        Attack("loop in body and handler", "xpcall(function() while true do end end, function() while true do end end)", .fails(.luaInstructionLimit)),
        Attack("tail-call loop", "local function f() return f() end return f()", .fails(.luaInstructionLimit)),
        Attack("table bomb", "local t = {} for i = 1, 1e9 do t[i] = {i} end", .fails(.luaMemoryLimit)),
        Attack("string doubling", "local s = 'x' while true do s = s .. s end", .fails(.luaMemoryLimit)),
        Attack("string.rep bomb", "return string.rep('x', 1e12)", .fails(.luaMemoryLimit)),
        Attack("string.rep with separator", "return ('x'):rep(1e9, 'yy')", .fails(.luaMemoryLimit)),
        Attack("empty rep returns at once", "return #string.rep('', 1e18) + #(''):rep(2^53, '')", .returns(0)),
        Attack("memory error swallowed by pcall", "pcall(string.rep, 'x', 1e10); return 1", .fails(.luaMemoryLimit)),
        Attack("gsub growth", "local s = ('a'):rep(1e5) for i = 1, 20 do s = s:gsub('a', 'aa') end", .fails(.luaMemoryLimit)),
        Attack("concat in table", "local t = {} for i = 1, 1e8 do t[#t + 1] = ('x'):rep(1000) end", .fails(.luaMemoryLimit)),
        Attack("backtracking .-.-.-b", "return (('a'):rep(5000)):find('.-.-.-b')", .fails(.luaPatternBudget)),
        Attack("a? repeated", "local n = 40 return (('a'):rep(n)):match(('a?'):rep(n) .. ('a'):rep(n))", .fails(.luaPatternBudget)),
        Attack("gmatch backtracking", "for x in (('a'):rep(3000)):gmatch('.-.-.-b') do end", .fails(.luaPatternBudget)),
        Attack("gsub backtracking", "return (('a'):rep(3000)):gsub('.-.-.-b', '')", .fails(.luaPatternBudget)),
        Attack("pattern budget swallowed by pcall", "pcall(string.find, ('a'):rep(5000), '.-.-.-b') return 1", .fails(.luaPatternBudget)),
        Attack("plain find huge needle", "local s = ('a'):rep(1e6) return s:find(('a'):rep(5e5) .. 'b', 1, true)", .fails(.luaPatternBudget)),
        Attack("table.move huge range", "table.move({}, 1, 1e12, 2)", .fails(.sandboxViolation)),
        Attack("table.move negative huge", "table.move({}, -2^62, 2^62, 1)", .fails(.sandboxViolation)),
        Attack("table.concat huge", "return table.concat({}, ',', 1, 1e10)", .fails(.sandboxViolation)),
        Attack("table.unpack huge", "return table.unpack({}, 1, 1e7)", .fails(.sandboxViolation)),
        Attack("table.insert shifting in a loop", "local t = {} for i = 1, 1e5 do t[i] = i end while true do table.insert(t, 1, 0) table.remove(t, 1) end", .fails(.luaInstructionLimit)),
        Attack("1MB of elseifs", bigElseif, .fails(.sandboxViolation)),
        Attack("deeply nested expression", "return " + String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000), .fails(.activityError)),
        // The stack overflows after ~200k frames, well inside these limits. Its timeout is the corpus's:
        // deadlines count from the call, and on the shared one-thread runner this case queues behind
        // the other attacks, which on a loaded machine ate a 10s budget before it started (`Timeout`).
        Attack("deep Lua recursion", "local function f(n) return 1 + f(n + 1) end return f(1)", .fails(.activityError), limits: ScriptLimits(memory: 64 << 20, instructions: 50_000_000, timeout: attackLimits.timeout)),
        Attack("__index function recursion", "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x", .fails(.activityError)),
        Attack("__index table loop", "local t = {} setmetatable(t, {__index = t}) return t.x", .fails(.activityError)),
        Attack("__concat recursion", "local mt = {} mt.__concat = function(a, b) return a .. b end local t = setmetatable({}, mt) return t .. 'x'", .fails(.activityError)),
        Attack("__eq recursion", "local mt = {} mt.__eq = function(a, b) return a == b end local a, b = setmetatable({}, mt), setmetatable({}, mt) return a == b", .fails(.activityError)),
        Attack("utf8.len in a loop", "local s = ('x'):rep(1e6) while true do utf8.len(s) end", .fails(.luaInstructionLimit)),
    ]

    static let finalizersAndErrors: [Attack] = [
        Attack("__gc on an error object", "error(setmetatable({}, {__gc = function() while true do end end}))", .fails(.sandboxViolation)),
        // A __close added after setmetatable never reaches the metatable in use: the value is not closable.
        Attack("__close that loops", "local mt = {} local t = setmetatable({}, mt) mt.__close = function() while true do end end do local x <close> = t end", .fails(.activityError)),
        Attack("__close that loops while unwinding", "local mt = {} local t = setmetatable({}, mt) mt.__close = function() while true do end end local x <close> = t error('boom')", .fails(.activityError)),
        Attack("non-closable variable", "local x <close> = {}", .fails(.activityError)),
        Attack("closable nil", "do local x <close> = nil end return 1", .returns(1)),
        Attack("error with looping __tostring", "error(setmetatable({}, {__tostring = function() while true do end end}))", .fails(.activityError)),
        Attack("error with looping __index", "error(setmetatable({}, {__index = function() while true do end end}))", .fails(.activityError)),
        Attack("error with raising __index", "error(setmetatable({}, {__index = function() error('no') end}))", .fails(.activityError)),
        Attack("error type through __index is ignored", "error(setmetatable({}, {__index = {type = 'Sneaky'}}))", .fails(.activityError)),
        Attack("typed error", "error({type = 'PaymentDeclined', message = 'card refused', retryable = false})", .fails("PaymentDeclined")),
        Attack("fail built-in", "fail('OutOfStock', 'none left', {sku = 'a'})", .fails("OutOfStock")),
        Attack("non-string type", "error({type = 123})", .fails(.activityError)),
        Attack("overlong type", "error({type = ('x'):rep(1000)})", .fails(.activityError)),
        Attack("nil error object", "error(nil)", .fails(.activityError)),
        Attack("number error object", "error(42)", .fails(.activityError)),
        Attack("cyclic details", "local d = {} d.self = d error({type = 'Cyclic', details = d})", .fails("Cyclic")),
        Attack("returned table with looping __tostring", "return setmetatable({}, {__tostring = function() while true do end end})", .returns(.object([:]))),
        Attack("returned table with looping __index and __pairs", "return setmetatable({a = 1}, {__index = function() while true do end end, __pairs = function() while true do end end})", .returns(["a": 1])),
    ]

    static let results: [Attack] = [
        Attack("cyclic result", "local t = {} t.t = t return t", .fails(.sandboxViolation)),
        Attack("very deep result", "local t = {} local c = t for i = 1, 100 do c.x = {} c = c.x end return t", .fails(.sandboxViolation)),
        Attack("function in result", "return {items = {1, 2, {f = print or type}}}", .fails(.sandboxViolation)),
        Attack("NaN", "return 0/0", .fails(.sandboxViolation)),
        Attack("infinity", "return {x = math.huge}", .fails(.sandboxViolation)),
        Attack("mixed keys", "return {1, 2, x = 3}", .fails(.sandboxViolation)),
        Attack("sparse array", "return {[1] = 1, [3] = 3}", .fails(.sandboxViolation)),
        Attack("output too large", "return ('x'):rep(2 << 20)", .fails(.sandboxViolation)),
        Attack("library table as result", "return string", .fails(.sandboxViolation)),
        Attack("invalid UTF-8", "return '\\xff\\xfe'", .fails(.sandboxViolation)),
    ]

    static let all = escapes + denialOfService + finalizersAndErrors + results
}

/// Every attack in both modes (docs/sandbox.md): in process, and in a sandbox helper, where the
/// same limits must end it with the same error types.
@Suite struct AttackCorpusTests {
    @Test(arguments: AttackCorpus.all, ScriptIsolation.allCases)
    func attack(_ attack: Attack, _ isolation: ScriptIsolation) async throws {
        var limits = attack.limits
        limits.isolation = isolation
        let runner: any ScriptRunning = isolation == .inProcess ? sharedRunner : sharedIsolatingRunner
        let result = await run(attack.source, limits: limits, runner: runner)
        switch attack.expect {
        case .fails(let type):
            #expect(result.failure?.type == type, "\(attack.name): \(String(describing: result.failure ?? nil)) \(String(describing: result.value?.output))")
        case .returns(let value):
            #expect(result.failure == nil, "\(attack.name): \(String(describing: result.failure))")
            #expect(result.value?.output == value)
        }
        // The next execution on the same pool sees nothing of the attack.
        var probeLimits = attackLimits
        probeLimits.isolation = isolation
        let probe = await run(cleanlinessProbe, limits: probeLimits, runner: runner)
        #expect(probe.value?.output == cleanProbeResult, "after \(attack.name): \(String(describing: probe.failure))")
    }

    @Test func corpusIsLarge() { #expect(AttackCorpus.all.count >= 50) }
}
