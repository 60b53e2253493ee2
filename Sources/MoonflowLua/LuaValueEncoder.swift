internal import CLuaSupport
import MoonflowModel
import OrderedCollections

/// Encodes values into the flat byte format that C decodes into Lua values (`push_encoded`):
/// Lua tables are built by C inside a protected call, so no allocation error can unwind Swift.
///
/// The encoder owns its buffer (freed in `deinit`; noncopyable, so it has exactly one owner) and
/// keeps it from one blob to the next: each write reserves room once and stores in place, with
/// no per-byte bounds or uniqueness checks.
struct LuaValueEncoder: ~Copyable {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    /// Bytes written since the last `reset`.
    private(set) var count = 0
    /// Deepest nesting accepted (`ScriptLimits.valueDepth`).
    private(set) var maxDepth: Int

    init(maxDepth: Int, capacity: Int = 256) {
        self.maxDepth = maxDepth
        self.capacity = max(capacity, 16)
        storage = .allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit { storage.deallocate() }

    /// Starts a new blob, keeping the storage of the previous one.
    mutating func reset(maxDepth: Int) {
        self.maxDepth = maxDepth
        count = 0
    }

    /// Gives back storage grown beyond `keep` bytes (and forgets what was written).
    mutating func trim(keep: Int) {
        guard capacity > keep else { return }
        storage.deallocate()
        capacity = 256
        storage = .allocate(byteCount: capacity, alignment: 8)
        count = 0
    }

    /// The bytes written so far, valid only inside `body`.
    func withBytes<R>(_ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        body(UnsafePointer(storage.assumingMemoryBound(to: UInt8.self)), count)
    }

    // MARK: Writing

    /// Makes room for `extra` more bytes.
    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        grown.copyMemory(from: storage, byteCount: count)
        storage.deallocate()
        storage = grown
        capacity = newCapacity
    }

    /// Stores without reserving (the caller did).
    @inline(__always)
    private mutating func put<T: FixedWidthInteger>(_ value: T) {
        storage.storeBytes(of: value.littleEndian, toByteOffset: count, as: T.self)
        count += MemoryLayout<T>.size
    }

    private mutating func tag(_ tag: Int) {
        reserve(1)
        put(UInt8(truncatingIfNeeded: tag))
    }

    mutating func count(_ n: Int) {
        reserve(4)
        put(UInt32(truncatingIfNeeded: n))
    }

    /// Length-prefixed bytes.
    mutating func raw(_ data: UnsafeRawBufferPointer) {
        reserve(4 + data.count)
        put(UInt32(truncatingIfNeeded: data.count))
        if let base = data.baseAddress { (storage + count).copyMemory(from: base, byteCount: data.count) }
        count += data.count
    }

    /// Length-prefixed UTF-8 (copied in one piece from a native string's storage).
    mutating func raw(_ text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ raw(UnsafeRawBufferPointer($0)) }) == nil {
            Array(text.utf8).withUnsafeBytes { raw($0) }
        }
    }

    /// One binding of an environment blob: `MF_BINDING_*` flags, name, then the value prefixed with
    /// its length (C builds a lazy binding only when the script first uses it, so it must find each one).
    mutating func binding(_ name: StaticString, _ value: Value, flags: Int, path: String) throws(ActivityFailure) {
        tag(flags)
        raw(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        try lengthPrefixed(value, path: path)
    }

    /// A binding whose value is an object (`workflow`), without wrapping the members in a `Value`.
    mutating func binding(_ name: StaticString, object members: OrderedDictionary<String, Value>, flags: Int, path: String) throws(ActivityFailure) {
        tag(flags)
        raw(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        let lengthAt = beginLength()
        guard object(members, depth: 0) else { throw nestingError(path) }
        endLength(at: lengthAt)
    }

    mutating func binding(named name: String, _ value: Value, flags: Int, path: String) throws(ActivityFailure) {
        tag(flags)
        raw(name)
        try lengthPrefixed(value, path: path)
    }

    private mutating func lengthPrefixed(_ value: Value, path: String) throws(ActivityFailure) {
        let lengthAt = beginLength()
        try self.value(value, path: path)
        endLength(at: lengthAt)
    }

    /// Leaves room for a length and returns where it goes.
    private mutating func beginLength() -> Int {
        reserve(4)
        count += 4
        return count - 4
    }

    /// Stores the length of what was written since `beginLength`.
    private mutating func endLength(at offset: Int) {
        storage.storeBytes(of: UInt32(truncatingIfNeeded: count - offset - 4).littleEndian, toByteOffset: offset, as: UInt32.self)
    }

    private func nestingError(_ path: String) -> ActivityFailure {
        ActivityFailure(.sandboxViolation, "\(path): nesting deeper than \(maxDepth) levels")
    }

    mutating func rawString(_ data: [UInt8]) {
        tag(MF_TAG_STRING)
        data.withUnsafeBytes { raw($0) }
    }

    /// Encodes `value`; `path` names it in the error when it nests deeper than `maxDepth`.
    mutating func value(_ value: Value, path: @autoclosure () -> String) throws(ActivityFailure) {
        guard encode(value, depth: 0) else { throw nestingError(path()) }
    }

    /// False when the value nests deeper than `maxDepth`.
    private mutating func encode(_ value: Value, depth: Int) -> Bool {
        switch value {
        case .null: tag(MF_TAG_NIL)
        case .bool(let b): tag(b ? MF_TAG_TRUE : MF_TAG_FALSE)
        case .int(let i):
            reserve(9)
            put(UInt8(MF_TAG_INT))
            put(i)
        case .double(let d):
            reserve(9)
            put(UInt8(MF_TAG_DOUBLE))
            put(d.bitPattern)
        case .string(let s):
            tag(MF_TAG_STRING)
            raw(s)
        case .array(let items):
            guard depth < maxDepth else { return false }
            reserve(5)
            put(UInt8(MF_TAG_ARRAY))
            put(UInt32(truncatingIfNeeded: items.count))
            for item in items where !encode(item, depth: depth + 1) { return false }
        case .object(let members):
            return object(members, depth: depth)
        }
        return true
    }

    private mutating func object(_ members: OrderedDictionary<String, Value>, depth: Int) -> Bool {
        guard depth < maxDepth else { return false }
        reserve(5)
        put(UInt8(MF_TAG_OBJECT))
        put(UInt32(truncatingIfNeeded: members.count))
        // Through buffers: the members are read in place, not retained one by one.
        return members.keys.elements.withUnsafeBufferPointer { keys in
            members.values.withUnsafeBufferPointer { values in
                for index in keys.indices {
                    raw(keys[index])
                    guard encode(values[index], depth: depth + 1) else { return false }
                }
                return true
            }
        }
    }
}
