internal import CLua
internal import CLuaSupport
import MoonflowModel
import OrderedCollections

/// Reads Lua values into `Value` with raw access only: no metamethod runs, and no call here can
/// raise a Lua error (types are checked before conversion; the stack is grown with `lua_checkstack`).
///
/// Rules (docs/sandbox.md): integers stay integers, floats stay floats (NaN and infinities refused); a
/// table whose keys are exactly 1...n is an array, a table with string keys an object whose keys
/// are sorted (Lua tables have no order, so output is deterministic), an empty table an empty
/// object; any other key shape, cycles, functions, userdata and threads are refused with the path.
struct LuaValueReader {
    let L: OpaquePointer
    let maxDepth: Int
    /// Bytes of JSON the value may take (`ScriptLimits.outputSize`).
    let maxSize: Int
    /// What remains of the execution's host budget (`ScriptLimits.hostMemory`): the copy stops,
    /// with `LuaMemoryLimit`, before it holds more.
    let budget: Int
    /// Bytes accounted so far (JSON-like size: strings count their bytes, checked before copying).
    private(set) var size = 0
    private var visiting: Set<UnsafeRawPointer> = []
    private var path: [PathComponent] = []
    private let root: String

    private enum PathComponent {
        case key(String)
        case index(Int64)
    }

    init(_ L: OpaquePointer, root: String, maxDepth: Int, maxSize: Int = .max, budget: Int = .max) {
        self.L = L
        self.root = root
        self.maxDepth = maxDepth
        self.maxSize = maxSize
        self.budget = budget
    }

    /// The path being read, as a Lua-like accessor (`output.items[3].f`).
    private var renderedPath: String {
        var text = root
        for component in path {
            switch component {
            case .index(let i): text += "[\(i)]"
            case .key(let whole):
                // A key is as long as the script likes: an error names at most 64 bytes of it.
                let k = whole.utf8.count > 64 ? String(decoding: whole.utf8.prefix(61), as: UTF8.self) + "…" : whole
                if let first = k.utf8.first, !(48...57).contains(first),
                    k.utf8.allSatisfy({ $0 == 95 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) })
                {
                    text += ".\(k)"
                } else {
                    text += "[\"\(k)\"]"
                }
            }
        }
        return text
    }

    private func refuse(_ reason: String) -> ActivityFailure {
        ActivityFailure(.sandboxViolation, "\(renderedPath): \(reason)")
    }

    private mutating func account(_ bytes: Int) throws(ActivityFailure) {
        size += bytes
        if size > maxSize { throw refuse("value larger than the limit of \(maxSize) bytes") }
        if size > budget {
            throw ActivityFailure(.luaMemoryLimit, "\(renderedPath): host memory budget exceeded (\(budget) bytes were left)")
        }
    }

    /// Reads the value at `index` (absolute or relative).
    mutating func read(_ index: Int32) throws(ActivityFailure) -> Value {
        let index = lua_absindex(L, index)
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE:
            try account(4)
            return .null
        case LUA_TBOOLEAN:
            try account(5)
            return .bool(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            try account(8)
            if lua_isinteger(L, index) != 0 { return .int(Int64(mflua_tointeger(L, index))) }
            let d = mflua_tonumber(L, index)
            guard d.isFinite else { throw refuse("NaN and infinities cannot leave the sandbox") }
            return .double(d)
        case LUA_TSTRING:
            let bytes = Self.bytes(L, index)
            try account(bytes.count + 2)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw refuse("strings must be valid UTF-8 to leave the sandbox")
            }
            return .string(text)
        case LUA_TTABLE:
            if mf_proxy_target(L, index) != 0 {
                defer { mflua_pop(L, 1) }
                return try readTable(lua_gettop(L))
            }
            return try readTable(index)
        case LUA_TFUNCTION: throw refuse("functions cannot leave the sandbox")
        case LUA_TTHREAD: throw refuse("threads cannot leave the sandbox")
        default: throw refuse("userdata cannot leave the sandbox")
        }
    }

    /// The bytes of the string at `index` (which must be a string: no number is converted).
    static func bytes(_ L: OpaquePointer, _ index: Int32) -> UnsafeBufferPointer<UInt8> {
        var length = 0
        guard let pointer = lua_tolstring(L, index, &length) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: length)
    }

    private mutating func readTable(_ index: Int32) throws(ActivityFailure) -> Value {
        guard path.count < maxDepth else { throw refuse("nesting deeper than \(maxDepth) levels") }
        guard let identity = lua_topointer(L, index) else { throw refuse("unreadable table") }
        guard visiting.insert(identity).inserted else { throw refuse("cycles cannot leave the sandbox") }
        defer { visiting.remove(identity) }
        guard lua_checkstack(L, 4) != 0 else { throw refuse("nesting too deep") }
        try account(2)

        var items: [(Int64, Value)] = []
        var members: [(String, Value)] = []
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            // key at -2, value at -1
            switch lua_type(L, -2) {
            case LUA_TNUMBER where lua_isinteger(L, -2) != 0:
                guard members.isEmpty else { mflua_pop(L, 2); throw refuse("tables mixing integer and string keys cannot leave the sandbox") }
                let key = Int64(mflua_tointeger(L, -2))
                path.append(.index(key))
                let value: Value
                do { value = try read(-1) } catch { mflua_pop(L, 2); throw error }
                path.removeLast()
                items.append((key, value))
            case LUA_TSTRING:
                guard items.isEmpty else { mflua_pop(L, 2); throw refuse("tables mixing integer and string keys cannot leave the sandbox") }
                let bytes = Self.bytes(L, -2)
                // Accounted before the copy: a key can be as long as a value.
                do { try account(bytes.count + 3) } catch { mflua_pop(L, 2); throw error }
                guard let key = String(validating: bytes, as: UTF8.self) else {
                    mflua_pop(L, 2)
                    throw refuse("keys must be valid UTF-8")
                }
                path.append(.key(key))
                let value: Value
                do { value = try read(-1) } catch { mflua_pop(L, 2); throw error }
                path.removeLast()
                members.append((key, value))
            default:
                let typeName = lua_type(L, -2) == LUA_TNUMBER ? "float" : String(cString: lua_typename(L, lua_type(L, -2)))
                mflua_pop(L, 2)
                throw refuse("\(typeName) keys cannot leave the sandbox (use string keys or a sequence 1..n)")
            }
            mflua_pop(L, 1)
        }
        if !items.isEmpty {
            items.sort { $0.0 < $1.0 }
            for (position, item) in items.enumerated() where item.0 != Int64(position + 1) {
                throw refuse("a sequence must have keys 1..\(items.count) without holes (found key \(item.0))")
            }
            return .array(items.map(\.1))
        }
        members.sort { $0.0 < $1.0 }
        return .object(OrderedDictionary(uniqueKeysWithValues: members))
    }
}
