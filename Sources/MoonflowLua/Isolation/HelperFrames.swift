internal import CIsolation
import MoonflowModel
import OrderedCollections

/// The protocol between the engine and a sandbox helper (docs/sandbox.md, "The second wall"): one
/// stream socket, frames of `u32 length (little-endian) · u8 kind · payload`, the length counting
/// the kind and the payload. The helper's first frame is `hello` with `HelperProtocol.version`;
/// an engine meeting another version retires the helper. Version 2: a `run` frame ends with
/// whether to record and the replay, `done` and `failed` with the recording.
enum HelperProtocol {
    static let version: UInt32 = 2
    /// Descriptor of the socket in the helper (posix_spawn's file actions put it there).
    static let helperDescriptor: Int32 = 3
    /// Bytes of a frame header.
    static let headerSize = 5
}

/// What a frame carries.
enum FrameKind: UInt8 {
    // Engine → helper.
    /// An execution: limits, the chunk, the bindings, whether to record, the replay.
    case run = 1
    /// The answer to `http`.
    case httpAnswer = 2
    /// The answer to `ledger`: an error message or none.
    case ledgerAnswer = 3
    /// Test-only (debug builds): make a forbidden system call.
    case probe = 4

    // Helper → engine.
    /// Protocol version and pid, once, before anything else.
    case hello = 10
    /// One `log.*` entry (no answer).
    case log = 11
    /// `http.request{…}`: the engine makes the request, answers `httpAnswer`.
    case http = 12
    /// `test.ledger(tag)`: the engine appends the line, answers `ledgerAnswer`.
    case ledger = 13
    /// The execution succeeded: output, context writes, events, the helper's peak RSS, the recording.
    case done = 14
    /// The execution failed: the typed failure, whether a limit tripped, the peak RSS, the recording.
    case failed = 15
}

/// A malformed frame: the peer is not speaking the protocol (or is no longer trusted).
struct FrameError: Error {
    let message: String
}

/// Builds frames in a buffer kept from one frame to the next.
struct FrameWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    /// Starts a frame of `kind`, dropping what the buffer held.
    mutating func begin(_ kind: FrameKind) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: [0, 0, 0, 0, kind.rawValue])
    }

    /// Writes the length into the header; the frame is `bytes`.
    mutating func finish() {
        let length = UInt32(bytes.count - 4)
        bytes[0] = UInt8(truncatingIfNeeded: length)
        bytes[1] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[2] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[3] = UInt8(truncatingIfNeeded: length >> 24)
    }

    /// Gives buffers an unusually big frame grew back (a helper lives for many executions).
    mutating func trim(keep: Int) {
        if bytes.capacity > keep { bytes = []; bytes.reserveCapacity(4096) }
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }

    mutating func bool(_ value: Bool) { u8(value ? 1 : 0) }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            u32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func optionalString(_ value: String?) {
        bool(value != nil)
        if let value { string(value) }
    }

    mutating func value(_ value: Value) {
        switch value {
        case .null: u8(0)
        case .bool(let b): u8(b ? 2 : 1)
        case .int(let i):
            u8(3)
            i64(i)
        case .double(let d):
            u8(4)
            u64(d.bitPattern)
        case .string(let s):
            u8(5)
            string(s)
        case .array(let items):
            u8(6)
            u32(UInt32(items.count))
            for item in items { self.value(item) }
        case .object(let members):
            u8(7)
            object(members)
        }
    }

    mutating func object(_ members: OrderedDictionary<String, Value>) {
        u32(UInt32(members.count))
        for (key, member) in members {
            string(key)
            value(member)
        }
    }

    mutating func optionalValue(_ value: Value?) {
        bool(value != nil)
        if let value { self.value(value) }
    }

    mutating func duration(_ value: Duration?) {
        bool(value != nil)
        if let value {
            let (seconds, attoseconds) = value.components
            i64(seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
        }
    }

    mutating func failure(_ failure: ActivityFailure) {
        string(failure.type.rawValue)
        string(failure.message)
        u8(failure.retryable.map { $0 ? 2 : 1 } ?? 0)
        optionalValue(failure.details)
        optionalString(failure.script)
        bool(failure.line != nil)
        if let line = failure.line { i64(Int64(line)) }
        duration(failure.retryAfter)
        bool(failure.retriedByDefault)
    }
}

/// Reads one frame's payload; every read is bounds-checked and throws `FrameError` past the end.
struct FrameReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    /// Nesting allowed in values (the execution's `valueDepth`, plus the frame's own levels).
    private let maxDepth: Int

    init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private mutating func take(_ count: Int) throws(FrameError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - offset else { throw FrameError(message: "frame ends early") }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// Whether the payload was read to its end.
    var isAtEnd: Bool { offset == bytes.count }

    mutating func u8() throws(FrameError) -> UInt8 { try take(1)[0] }

    mutating func u32() throws(FrameError) -> UInt32 {
        let raw = try take(4)
        return UInt32(raw[0]) | UInt32(raw[1]) << 8 | UInt32(raw[2]) << 16 | UInt32(raw[3]) << 24
    }

    mutating func u64() throws(FrameError) -> UInt64 {
        let raw = try take(8)
        var value: UInt64 = 0
        for index in (0..<8).reversed() { value = value << 8 | UInt64(raw[index]) }
        return value
    }

    mutating func i64() throws(FrameError) -> Int64 { Int64(bitPattern: try u64()) }

    mutating func bool() throws(FrameError) -> Bool { try u8() != 0 }

    mutating func string() throws(FrameError) -> String {
        let count = Int(try u32())
        return String(decoding: try take(count), as: UTF8.self)
    }

    mutating func optionalString() throws(FrameError) -> String? { try bool() ? try string() : nil }

    mutating func value() throws(FrameError) -> Value { try value(depth: 0) }

    private mutating func value(depth: Int) throws(FrameError) -> Value {
        guard depth <= maxDepth else { throw FrameError(message: "value nested deeper than \(maxDepth)") }
        switch try u8() {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(try i64())
        case 4: return .double(Double(bitPattern: try u64()))
        case 5: return .string(try string())
        case 6:
            let count = Int(try u32())
            // Every item takes at least a byte: a count beyond what remains is a lie.
            guard count <= bytes.count - offset else { throw FrameError(message: "frame ends early") }
            var items: [Value] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try value(depth: depth + 1)) }
            return .array(items)
        case 7: return .object(try object(depth: depth + 1))
        case let tag: throw FrameError(message: "unknown value tag \(tag)")
        }
    }

    mutating func object() throws(FrameError) -> OrderedDictionary<String, Value> { try object(depth: 1) }

    private mutating func object(depth: Int) throws(FrameError) -> OrderedDictionary<String, Value> {
        let count = Int(try u32())
        guard count <= bytes.count - offset else { throw FrameError(message: "frame ends early") }
        var members: OrderedDictionary<String, Value> = [:]
        members.reserveCapacity(count)
        for _ in 0..<count {
            let key = try string()
            members[key] = try value(depth: depth)
        }
        return members
    }

    mutating func optionalValue() throws(FrameError) -> Value? { try bool() ? try value() : nil }

    mutating func duration() throws(FrameError) -> Duration? { try bool() ? .nanoseconds(try i64()) : nil }

    mutating func failure() throws(FrameError) -> ActivityFailure {
        let type = try string()
        let message = try string()
        let retryable: Bool? =
            switch try u8() {
            case 1: false
            case 2: true
            default: nil
            }
        let details = try optionalValue()
        let script = try optionalString()
        let line = try bool() ? Int(try i64()) : nil
        let retryAfter = try duration()
        let retriedByDefault = try bool()
        return ActivityFailure(
            ErrorType(type), message, retryable: retryable, details: details, script: script, line: line, retryAfter: retryAfter,
            retriedByDefault: retriedByDefault)
    }
}

/// One end of a helper's socket: frames out of a reused buffer, frames in through a reused buffer
/// that usually fills with one `read`.
final class FrameChannel {
    let descriptor: Int32
    var writer = FrameWriter()
    private var inbound: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// The largest frame accepted; a bigger length means the peer is not to be trusted.
    let maxFrame: Int
    private static let initialCapacity = 64 << 10

    init(descriptor: Int32, maxFrame: Int) {
        self.descriptor = descriptor
        self.maxFrame = maxFrame
        inbound = .allocate(byteCount: Self.initialCapacity, alignment: 8)
    }

    deinit { inbound.deallocate() }

    /// Sends the frame `writer` holds.
    func send() -> Bool {
        writer.finish()
        return writer.bytes.withUnsafeBytes { mf_iso_write_full(descriptor, $0.baseAddress, $0.count) == 0 }
    }

    enum Received {
        case frame(FrameKind, UnsafeRawBufferPointer)
        /// The peer closed its end or died.
        case closed
        /// The deadline passed first.
        case late
        case malformed(String)
    }

    /// The next frame, waiting until `deadline` (monotonic ns; 0: for ever). The payload is valid
    /// until the next call.
    func receive(deadline: UInt64) -> Received {
        if start == end {
            start = 0
            end = 0
        }
        while end - start < HelperProtocol.headerSize {
            if start + HelperProtocol.headerSize > inbound.count { compact() }
            if let problem = fill(deadline: deadline) { return problem }
        }
        let length = Int(inbound[start]) | Int(inbound[start + 1]) << 8 | Int(inbound[start + 2]) << 16 | Int(inbound[start + 3]) << 24
        guard length >= 1, length <= maxFrame else { return .malformed("a frame of \(length) bytes") }
        guard let kind = FrameKind(rawValue: inbound[start + 4]) else { return .malformed("unknown frame kind \(inbound[start + 4])") }
        let total = 4 + length
        if inbound.count - start < total {
            compact()
            if inbound.count < total { grow(to: total) }
        }
        while end - start < total {
            if let problem = fill(deadline: deadline) { return problem }
        }
        let frameStart = start + HelperProtocol.headerSize
        start += total
        return .frame(kind, UnsafeRawBufferPointer(rebasing: inbound[frameStart..<(frameStart + length - 1)]))
    }

    /// Moves what arrived and is unread to the front.
    private func compact() {
        guard start > 0 else { return }
        if end > start { inbound.baseAddress!.copyMemory(from: inbound.baseAddress! + start, byteCount: end - start) }
        end -= start
        start = 0
    }

    private func grow(to count: Int) {
        let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        if end > 0 { bigger.baseAddress!.copyMemory(from: inbound.baseAddress!, byteCount: end) }
        inbound.deallocate()
        inbound = bigger
    }

    /// Gives back buffers an unusually big frame grew (a helper lives for many executions).
    func trim() {
        if inbound.count > Self.initialCapacity, start == end {
            inbound.deallocate()
            inbound = .allocate(byteCount: Self.initialCapacity, alignment: 8)
            start = 0
            end = 0
        }
        writer.trim(keep: 1 << 20)
    }

    private func fill(deadline: UInt64) -> Received? {
        let result = mf_iso_read_some(descriptor, inbound.baseAddress! + end, inbound.count - end, deadline)
        if result > 0 {
            end += result
            return nil
        }
        return result == -2 ? .late : .closed
    }
}
