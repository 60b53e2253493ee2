internal import CLuaSupport
import MoonflowModel

/// Encodes values into the flat byte format that C decodes into Lua values (`mf_push_encoded`):
/// Lua tables are built by C inside a protected call, so no allocation error can unwind Swift.
struct LuaValueEncoder {
    private(set) var bytes: [UInt8] = []
    /// Deepest nesting accepted (`ScriptLimits.valueDepth`).
    private(set) var maxDepth: Int

    init(maxDepth: Int, capacity: Int = 64) {
        self.maxDepth = maxDepth
        bytes.reserveCapacity(capacity)
    }

    /// Starts a new blob, keeping the storage of the previous one.
    mutating func reset(maxDepth: Int) {
        self.maxDepth = maxDepth
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func count(_ n: Int) {
        let v = UInt32(truncatingIfNeeded: n)
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 24))
    }

    private mutating func word(_ v: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    mutating func raw(_ data: some Collection<UInt8>) {
        count(data.count)
        bytes.append(contentsOf: data)
    }

    /// One binding of an environment blob: read-only flag, name, then the value prefixed with its
    /// length (C builds a binding only when the script first uses it, so it must find each one).
    mutating func binding(_ name: String, _ value: Value, readOnly: Bool, path: String) throws(ActivityFailure) {
        bytes.append(readOnly ? 1 : 0)
        raw(name.utf8)
        let lengthAt = bytes.count
        count(0)
        try self.value(value, path: path)
        let length = UInt32(truncatingIfNeeded: bytes.count - lengthAt - 4)
        for offset in 0..<4 { bytes[lengthAt + offset] = UInt8(truncatingIfNeeded: length >> UInt32(offset * 8)) }
    }

    mutating func rawString(_ data: some Collection<UInt8>) {
        bytes.append(UInt8(MF_TAG_STRING))
        raw(data)
    }

    /// Encodes `value`; `path` names it in the error when it nests deeper than `maxDepth`.
    mutating func value(_ value: Value, path: @autoclosure () -> String) throws(ActivityFailure) {
        guard encode(value, depth: 0) else {
            throw ActivityFailure(.sandboxViolation, "\(path()): nesting deeper than \(maxDepth) levels")
        }
    }

    /// False when the value nests deeper than `maxDepth`.
    private mutating func encode(_ value: Value, depth: Int) -> Bool {
        switch value {
        case .null: bytes.append(UInt8(MF_TAG_NIL))
        case .bool(let b): bytes.append(UInt8(b ? MF_TAG_TRUE : MF_TAG_FALSE))
        case .int(let i):
            bytes.append(UInt8(MF_TAG_INT))
            word(UInt64(bitPattern: i))
        case .double(let d):
            bytes.append(UInt8(MF_TAG_DOUBLE))
            word(d.bitPattern)
        case .string(let s):
            bytes.append(UInt8(MF_TAG_STRING))
            raw(s.utf8)
        case .array(let items):
            guard depth < maxDepth else { return false }
            bytes.append(UInt8(MF_TAG_ARRAY))
            count(items.count)
            for item in items where !encode(item, depth: depth + 1) { return false }
        case .object(let members):
            guard depth < maxDepth else { return false }
            bytes.append(UInt8(MF_TAG_OBJECT))
            count(members.count)
            for (name, member) in members {
                raw(name.utf8)
                guard encode(member, depth: depth + 1) else { return false }
            }
        }
        return true
    }
}
