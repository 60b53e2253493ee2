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

    mutating func count(_ n: Int) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: n).littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ data: some Collection<UInt8>) {
        count(data.count)
        bytes.append(contentsOf: data)
    }

    mutating func key(_ text: String) {
        var text = text
        text.withUTF8 { raw($0) }
    }

    /// One binding of an environment blob: read-only flag, name, then the value prefixed with its
    /// length (C builds a binding only when the script first uses it, so it must find each one).
    mutating func binding(_ name: String, _ value: Value, readOnly: Bool, path: String) throws(ActivityFailure) {
        bytes.append(readOnly ? 1 : 0)
        key(name)
        let lengthAt = bytes.count
        count(0)
        try self.value(value, depth: 0, path: path)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: bytes.count - lengthAt - 4).littleEndian) { length in
            bytes.withUnsafeMutableBytes { $0[lengthAt..<(lengthAt + 4)].copyBytes(from: length) }
        }
    }

    /// Starts a new blob, keeping the storage of the previous one.
    mutating func reset(maxDepth: Int) {
        self.maxDepth = maxDepth
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func rawString(_ data: some Collection<UInt8>) {
        bytes.append(UInt8(MF_TAG_STRING))
        raw(data)
    }

    mutating func value(_ value: Value, depth: Int = 0, path: String) throws(ActivityFailure) {
        switch value {
        case .null: bytes.append(UInt8(MF_TAG_NIL))
        case .bool(let b): bytes.append(UInt8(b ? MF_TAG_TRUE : MF_TAG_FALSE))
        case .int(let i):
            bytes.append(UInt8(MF_TAG_INT))
            withUnsafeBytes(of: i.littleEndian) { bytes.append(contentsOf: $0) }
        case .double(let d):
            bytes.append(UInt8(MF_TAG_DOUBLE))
            withUnsafeBytes(of: d.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        case .string(var s):
            bytes.append(UInt8(MF_TAG_STRING))
            s.withUTF8 { raw($0) }
        case .array(let items):
            try checkDepth(depth, path)
            bytes.append(UInt8(MF_TAG_ARRAY))
            count(items.count)
            for item in items { try self.value(item, depth: depth + 1, path: path) }
        case .object(let members):
            try checkDepth(depth, path)
            bytes.append(UInt8(MF_TAG_OBJECT))
            count(members.count)
            for (name, member) in members {
                key(name)
                try self.value(member, depth: depth + 1, path: path)
            }
        }
    }

    private func checkDepth(_ depth: Int, _ path: String) throws(ActivityFailure) {
        if depth >= maxDepth {
            throw ActivityFailure(.sandboxViolation, "\(path): nesting deeper than \(maxDepth) levels")
        }
    }
}
