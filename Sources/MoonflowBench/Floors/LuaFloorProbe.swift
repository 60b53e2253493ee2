import CLua
import MoonflowModel

/// The floor the sandbox is measured against: a plain Lua state (no sandbox, no limits) holding
/// a tiny chunk, and one bare `lua_pcall` of it. Only `moonflow bench` uses it.
final class LuaFloorProbe {
    private let L: OpaquePointer

    init?() {
        guard let state = luaL_newstate() else { return nil }
        guard luaL_loadstring(state, "local n = ... return n + 1") == LUA_OK else {
            lua_close(state)
            return nil
        }
        L = state
    }

    deinit { lua_close(L) }

    /// Calls the chunk once with `argument` (`lua_pcall` and `lua_pop` are macros over
    /// `lua_pcallk` and `lua_settop`); -1 if it failed.
    func call(_ argument: Int64) -> Int64 {
        lua_pushvalue(L, 1)
        lua_pushinteger(L, lua_Integer(argument))
        guard lua_pcallk(L, 1, 1, 0, 0, nil) == LUA_OK else {
            lua_settop(L, -2)
            return -1
        }
        let result = lua_tointegerx(L, -1, nil)
        lua_settop(L, -2)
        return Int64(result)
    }
}

/// The floors every run measures first.
enum BenchFloors {
    /// A bare `lua_pcall` of `function(n) return n + 1 end`.
    static func luaPcall(repetitions: Int) throws -> BenchFloor {
        guard let probe = LuaFloorProbe() else { throw BenchError(description: "could not open a Lua state") }
        var sum: Int64 = 0
        let calls = 20_000
        let nanos = Bench.medianNanos(repetitions: repetitions, operations: calls) {
            for i in 0..<calls { sum &+= probe.call(Int64(i)) }
        }
        // Each repetition adds the sum of 1...calls.
        try Bench.check(.int(sum), equals: .int(Int64(repetitions * calls * (calls + 1) / 2)), "lua_pcall floor")
        return BenchFloor(name: "bare lua_pcall", nanos: nanos)
    }
}
