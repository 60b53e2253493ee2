internal import CLua
internal import CLuaSupport
import Crypto
import Foundation
import MoonflowModel
import OrderedCollections

/// The built-ins of docs/sandbox.md that are implemented in Swift. Called from C through `host_call`;
/// reads arguments with non-raising calls and answers with a status and encoded values that C
/// pushes (or raises), so no Lua error ever unwinds a Swift frame.
final class LuaHost {
    /// What the current execution may use and has produced, replaced as a whole by `begin`.
    private struct Execution {
        var valueDepth: Int
        /// The running code action's `activity` (`nil` for expressions).
        var activity: Value?
        var logs: [ScriptLogEntry] = []
        var events: [EmittedEvent] = []
        var logBytes = 0
        var logsFull = false
        /// `ScriptLimits.hostMemory`, and the bytes of copies kept for the execution so far.
        var hostBudget: Int
        var hostHeld = 0
        /// `ScriptInvocation.logSink`: told of each entry kept.
        var logSink: (@Sendable (ScriptLogEntry) -> Void)?
        /// `ScriptInvocation.http`, and the requests made so far (the n of `<key>:<n>`).
        var http: (any HTTPCalling)?
        var requests = 0
        /// What the non-deterministic built-ins answered so far (`ScriptRecording`); in a replay,
        /// what they answer, and how much of it they answered already.
        var recording = ScriptRecording()
        var httpBytes = 0
        var replay: ScriptRecording?
        var replayed = Replayed()
    }

    /// How far a replay has read each kind of recorded answer.
    struct Replayed {
        var now = 0, unix = 0, uuids = 0, http = 0
    }

    private var execution = Execution(valueDepth: ScriptLimits.defaults.valueDepth, hostBudget: ScriptLimits.defaults.hostMemory)
    private let testLedger: LuaTestLedger?
    /// The answer of the current call (its storage is reused from one call to the next).
    private var answer = LuaValueEncoder(maxDepth: ScriptLimits.defaults.valueDepth)

    init(testLedger: LuaTestLedger?) {
        self.testLedger = testLedger
    }

    /// Most log entries and events one execution may produce.
    static let maxLogEntries = 1000
    static let maxLogBytes = 1 << 20
    static let maxEvents = 1000
    /// Bytes of an error text (or `fail` message) copied out of Lua; the rest is cut before the copy.
    static let maxErrorText = 8 << 10
    /// Bytes hashed between two polls of the deadline.
    static let hashPiece = 1 << 20

    func begin(
        valueDepth: Int, activity: Value?, hostBudget: Int, logSink: (@Sendable (ScriptLogEntry) -> Void)? = nil,
        http: (any HTTPCalling)? = nil, replay: ScriptRecording? = nil
    ) {
        execution = Execution(valueDepth: valueDepth, activity: activity, hostBudget: hostBudget, logSink: logSink, http: http, replay: replay)
    }

    /// What the execution's non-deterministic built-ins answered (the seeds are C's to tell).
    var recording: ScriptRecording { execution.recording }
    /// Whether this execution replays a recorded one.
    var isReplaying: Bool { execution.replay != nil }

    /// `time.now`, `time.unix` and `uuid`: a fresh answer, recorded (bounded); in a replay, the
    /// recorded one, in order.
    private func nondeterministic(
        _ name: String, _ recorded: KeyPath<ScriptRecording, [Value]>, _ read: WritableKeyPath<Replayed, Int>,
        fresh: () -> Value, keep: (inout ScriptRecording, Value) -> Void
    ) -> Answer {
        if let replay = execution.replay {
            let answers = replay[keyPath: recorded]
            let index = execution.replayed[keyPath: read]
            guard index < answers.count else { return .message("\(name): the replay has no more recorded answers (\(answers.count) recorded)") }
            execution.replayed[keyPath: read] += 1
            return .values([answers[index]])
        }
        let value = fresh()
        if execution.recording[keyPath: recorded].count < ScriptRecording.maxEntries {
            keep(&execution.recording, value)
        } else {
            execution.recording.truncated = true
        }
        return .values([value])
    }

    /// The next recorded `http.request` answer of a replay.
    func replayedResponse() -> Value? {
        guard let replay = execution.replay, execution.replayed.http < replay.http.count else { return nil }
        defer { execution.replayed.http += 1 }
        return replay.http[execution.replayed.http]
    }

    /// Records what an `http.request` answered, while the recording's bound holds.
    func recordResponse(_ value: Value) {
        let bytes = value.jsonString().utf8.count
        guard execution.recording.http.count < ScriptRecording.maxEntries, execution.httpBytes + bytes <= ScriptRecording.maxHTTPBytes else {
            execution.recording.truncated = true
            return
        }
        execution.httpBytes += bytes
        execution.recording.http.append(value)
    }

    /// Releases buffers an execution grew beyond `keep` bytes (answers are bounded by the budget,
    /// but one big answer must not stay allocated for the life of the state).
    func trim(_ L: OpaquePointer, keep: Int) {
        answer.trim(keep: keep)
        mf_out_trim(L, keep)
    }

    var logs: [ScriptLogEntry] { execution.logs }
    /// What `http.request` calls in this execution, if anything.
    var http: (any HTTPCalling)? { execution.http }
    /// The running code action's idempotency key (`nil` for expressions).
    var idempotencyKey: String? { execution.activity?["idempotency_key"]?.stringValue }
    /// Counts one more request of the execution; its number, from 1.
    func countRequest() -> Int {
        execution.requests += 1
        return execution.requests
    }
    var events: [EmittedEvent] { execution.events }

    /// What remains of the host budget.
    var hostRemaining: Int { max(0, execution.hostBudget - execution.hostHeld) }
    /// Records a copy kept for the execution (the reader already refused one beyond the budget).
    func hold(_ bytes: Int) { execution.hostHeld += bytes }

    enum Answer {
        case values([Value])
        case string([UInt8])
        case message(String)
        case raise(Value)
        case violation(String)
        /// The host budget would be exceeded: the execution fails with `LuaMemoryLimit`.
        case budget(String)
    }

    func call(_ L: OpaquePointer, _ fid: Int32, _ nargs: Int32) -> Int32 {
        let result = dispatch(L, Int(fid), Int(nargs))
        answer.reset(maxDepth: execution.valueDepth)
        do throws(ActivityFailure) {
            switch result {
            case .values(let values):
                answer.count(values.count)
                for value in values { try answer.value(value, path: "result") }
            case .string(let bytes):
                answer.count(1)
                answer.rawString(bytes)
            case .raise(let value):
                answer.count(1)
                try answer.value(value, path: "error")
            case .message(let text), .violation(let text), .budget(let text):
                var text = text
                text.withUTF8 { mf_out_append(L, $0.baseAddress, $0.count) }
                if case .violation = result { return Int32(MF_HOST_VIOLATION) }
                if case .budget = result { return Int32(MF_HOST_BUDGET) }
                return Int32(MF_HOST_RAISE_MESSAGE)
            }
        } catch {
            var text = error.message
            text.withUTF8 { mf_out_append(L, $0.baseAddress, $0.count) }
            return Int32(MF_HOST_RAISE_MESSAGE)
        }
        answer.withBytes { bytes, count in mf_out_append(L, bytes, count) }
        if case .raise = result { return Int32(MF_HOST_RAISE_VALUE) }
        return Int32(MF_HOST_RETURN)
    }

    /// `.budget` when a temporary copy of `bytes` would not fit in what remains of the budget.
    func transient(_ bytes: Int, _ function: String) -> Answer? {
        bytes <= hostRemaining ? nil : .budget("\(function): a result of \(bytes) bytes exceeds the host memory budget (\(hostRemaining) bytes left)")
    }

    private func dispatch(_ L: OpaquePointer, _ fid: Int, _ nargs: Int) -> Answer {
        let arguments = Arguments(L: L, count: nargs, depth: execution.valueDepth)
        do {
            switch fid {
            case MF_HOST_JSON_ENCODE:
                let value = try arguments.value(1, root: "json.encode", budget: hostRemaining)
                let text = value.jsonString(sortedKeys: true)
                if let refused = transient(text.utf8.count, "json.encode") { return refused }
                return .values([.string(text)])
            case MF_HOST_JSON_DECODE:
                let bytes = try arguments.buffer(1, "json.decode")
                if let refused = transient(bytes.count, "json.decode") { return refused }
                do {
                    return .values([try Value(json: Array(bytes), maxDepth: execution.valueDepth)])
                } catch {
                    return .message("json.decode: \(error.description)")
                }
            case MF_HOST_LOG_DEBUG: return try log("debug", arguments)
            case MF_HOST_LOG_INFO: return try log("info", arguments)
            case MF_HOST_LOG_WARN: return try log("warn", arguments)
            case MF_HOST_LOG_ERROR: return try log("error", arguments)
            case MF_HOST_TIME_NOW:
                return nondeterministic("time.now", \.nowValues, \.now, fresh: { .string(ISOTime.format(Date())) }) {
                    $0.now.append($1.stringValue ?? "")
                }
            case MF_HOST_TIME_UNIX:
                return nondeterministic("time.unix", \.unixValues, \.unix, fresh: { .int(Int64(Date().timeIntervalSince1970.rounded(.down))) }) {
                    $0.unix.append($1.intValue ?? 0)
                }
            case MF_HOST_TIME_PARSE:
                let text = String(decoding: try arguments.buffer(1, "time.parse").prefix(64), as: UTF8.self)
                guard let seconds = ISOTime.parse(text) else { return .message("time.parse: not an ISO 8601 time: '\(text)'") }
                return .values([seconds.rounded() == seconds && abs(seconds) < 9e15 ? .int(Int64(seconds)) : .double(seconds)])
            case MF_HOST_UUID:
                return nondeterministic("uuid", \.uuidValues, \.uuids, fresh: { .string(RandomUUID.make()) }) {
                    $0.uuids.append($1.stringValue ?? "")
                }
            case MF_HOST_BASE64_ENCODE:
                let bytes = try arguments.buffer(1, "base64.encode")
                if let refused = transient((bytes.count + 2) / 3 * 4, "base64.encode") { return refused }
                return .values([.string(Data(buffer: bytes).base64EncodedString())])
            case MF_HOST_BASE64_DECODE:
                let bytes = try arguments.buffer(1, "base64.decode")
                if let refused = transient(bytes.count, "base64.decode") { return refused }
                guard let data = Data(base64Encoded: String(decoding: bytes, as: UTF8.self)) else { return .message("base64.decode: invalid base64") }
                return .string(Array(data))
            case MF_HOST_HEX_ENCODE:
                let bytes = try arguments.buffer(1, "hex.encode")
                if let refused = transient(bytes.count * 2, "hex.encode") { return refused }
                return .values([.string(Hex.encode(bytes))])
            case MF_HOST_HEX_DECODE:
                let bytes = try arguments.buffer(1, "hex.decode")
                if let refused = transient(bytes.count / 2, "hex.decode") { return refused }
                guard let decoded = Hex.decode(bytes) else { return .message("hex.decode: invalid hexadecimal") }
                return .string(decoded)
            case MF_HOST_HASH_SHA256:
                var hasher = SHA256()
                guard feed(try arguments.buffer(1, "hash.sha256"), L, into: { hasher.update(bufferPointer: $0) }) else { return .message("interrupted") }
                return .values([.string(Hex.encode(Array(hasher.finalize())))])
            case MF_HOST_HMAC_SHA256:
                let key = try arguments.buffer(1, "hmac.sha256")
                if let refused = transient(key.count, "hmac.sha256") { return refused }
                var mac = HMAC<SHA256>(key: SymmetricKey(data: Array(key)))
                guard feed(try arguments.buffer(2, "hmac.sha256"), L, into: { mac.update(data: $0) }) else { return .message("interrupted") }
                return .values([.string(Hex.encode(Array(mac.finalize())))])
            case MF_HOST_EMIT:
                let type = try arguments.name(1, "emit")
                guard LuaSandbox.isValidErrorType(type) else { return .message("emit: invalid event type '\(type)'") }
                guard execution.events.count < Self.maxEvents else { return .violation("emit: more than \(Self.maxEvents) events") }
                var payload: Value = .object([:])
                if nargs >= 2 {
                    let (value, size) = try arguments.measuredValue(2, root: "emit payload", budget: hostRemaining - type.utf8.count)
                    payload = value
                    hold(size + type.utf8.count)
                }
                execution.events.append(EmittedEvent(type: type, payload: payload))
                return .values([])
            case MF_HOST_FAIL:
                let type = try arguments.name(1, "fail")
                guard LuaSandbox.isValidErrorType(type) else { return .message("fail: invalid error type '\(type)'") }
                if ReservedErrorTypes.contains(type) { return .violation("fail: error type '\(type)' is reserved for the engine") }
                var error: OrderedDictionary<String, Value> = ["type": .string(type)]
                if nargs >= 2, !arguments.isNil(2) {
                    error["message"] = .string(String(decoding: try arguments.buffer(2, "fail").prefix(Self.maxErrorText), as: UTF8.self))
                }
                if nargs >= 3, !arguments.isNil(3) {
                    // What the failure keeps of them (`LuaSandbox.errorTable`): bigger details are dropped there.
                    error["details"] = try? arguments.value(3, root: "fail details", budget: min(hostRemaining, LuaSandbox.maxErrorDetails))
                }
                return .raise(.object(error))
            case MF_HOST_HTTP_REQUEST:
                return try httpRequest(L, arguments)
            case MF_HOST_TEST_LEDGER:
                let tag = try arguments.text(1, "test.ledger")
                guard let testLedger, let activity = execution.activity else { return .message("test.ledger: only code actions run with a test ledger") }
                if let problem = testLedger.append(tag: tag, activity: activity) { return .message("test.ledger: \(problem)") }
                return .values([])
            default:
                return .message("unknown built-in")
            }
        } catch {
            if error.type == .luaMemoryLimit { return .budget(error.message) }
            return .message(error.message)
        }
    }

    /// Hands `bytes` to `update` in pieces, polling the deadline between them; false when the
    /// execution must stop (C then trips it).
    private func feed(_ bytes: UnsafeBufferPointer<UInt8>, _ L: OpaquePointer, into update: (UnsafeRawBufferPointer) -> Void) -> Bool {
        var offset = 0
        repeat {
            let piece = UnsafeBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + Self.hashPiece)])
            update(UnsafeRawBufferPointer(piece))
            offset += piece.count
            if offset < bytes.count, mf_host_poll(L) != 0 { return false }
        } while offset < bytes.count
        return true
    }

    /// A log entry, kept while the log's own share (`maxLogBytes`, `maxLogEntries`) and the host
    /// budget have room; then one warning, and later entries are dropped without reading them.
    private func log(_ level: String, _ arguments: Arguments) throws(ActivityFailure) -> Answer {
        guard !execution.logsFull else { return .values([]) }
        let message = arguments.display(1)
        let room = min(Self.maxLogBytes - execution.logBytes, hostRemaining)
        var size = message.utf8.count
        var fields: Value = .object([:])
        if size <= room, arguments.count >= 2, !arguments.isNil(2) {
            do {
                let (value, fieldSize) = try arguments.measuredValue(2, root: "log fields", budget: room - size)
                fields = value
                size += fieldSize
            } catch where error.type == .luaMemoryLimit {
                size = .max
            }
        }
        guard size <= room, execution.logs.count < Self.maxLogEntries - 1 else {
            execution.logsFull = true
            keep(ScriptLogEntry(level: "warn", message: "log limit reached; later entries dropped"))
            hold(64)
            return .values([])
        }
        execution.logBytes += size
        hold(size)
        keep(ScriptLogEntry(level: level, message: message, fields: fields))
        return .values([])
    }

    /// Keeps an entry for the outcome and hands it to the sink (the same copy: the budget counts it once).
    private func keep(_ entry: ScriptLogEntry) {
        execution.logs.append(entry)
        execution.logSink?(entry)
    }
}

/// Arguments of a host call, read raw.
struct Arguments {
    let L: OpaquePointer
    let count: Int
    let depth: Int

    func isNil(_ index: Int) -> Bool { index > count || lua_type(L, Int32(index)) == LUA_TNIL }

    /// The bytes of a string argument, in place (valid while the call runs: the argument stays on
    /// the stack), so nothing is copied before the built-in decides it may.
    func buffer(_ index: Int, _ function: String) throws(ActivityFailure) -> UnsafeBufferPointer<UInt8> {
        guard index <= count, lua_type(L, Int32(index)) == LUA_TSTRING else {
            let got = index <= count ? String(cString: lua_typename(L, lua_type(L, Int32(index)))) : "no value"
            throw ActivityFailure(.activityError, "bad argument #\(index) to '\(function)' (string expected, got \(got))")
        }
        return LuaValueReader.bytes(L, Int32(index))
    }

    func text(_ index: Int, _ function: String) throws(ActivityFailure) -> String {
        String(decoding: try buffer(index, function), as: UTF8.self)
    }

    /// A type name (events, errors): at most 64 bytes are copied; longer is reported cut.
    func name(_ index: Int, _ function: String) throws(ActivityFailure) -> String {
        let bytes = try buffer(index, function)
        return String(decoding: bytes.prefix(65), as: UTF8.self)
    }

    func value(_ index: Int, root: String, budget: Int) throws(ActivityFailure) -> Value {
        try measuredValue(index, root: root, budget: budget).0
    }

    /// A value and the bytes it was accounted (charged to the instruction budget too); a value
    /// beyond `budget` throws `LuaMemoryLimit` before it is copied.
    func measuredValue(_ index: Int, root: String, budget: Int) throws(ActivityFailure) -> (Value, Int) {
        var reader = LuaValueReader(L, root: root, maxDepth: depth, budget: max(0, budget))
        defer { mf_host_charge(L, reader.size) }
        do {
            return (try reader.read(Int32(index)), reader.size)
        } catch where error.type == .luaMemoryLimit {
            throw error
        } catch {
            throw ActivityFailure(.activityError, error.message)
        }
    }

    /// A scalar rendered as text (log messages); tables and functions by their type name.
    func display(_ index: Int) -> String {
        guard index <= count else { return "" }
        switch lua_type(L, Int32(index)) {
        case LUA_TSTRING: return String(decoding: LuaValueReader.bytes(L, Int32(index)).prefix(64 << 10), as: UTF8.self)
        case LUA_TNUMBER:
            if lua_isinteger(L, Int32(index)) != 0 { return String(mflua_tointeger(L, Int32(index))) }
            return "\(mflua_tonumber(L, Int32(index)))"
        case LUA_TBOOLEAN: return lua_toboolean(L, Int32(index)) != 0 ? "true" : "false"
        default: return String(cString: lua_typename(L, lua_type(L, Int32(index))))
        }
    }
}

/// ISO 8601 in UTC, written and read without Foundation formatters (fast and thread-safe).
enum ISOTime {
    static func format(_ date: Date) -> String {
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let millis = Int(((totalMillis % 1000) + 1000) % 1000)
        let seconds = (totalMillis - Int64(millis)) / 1000
        let days = Int(seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400)
        let secondOfDay = Int(seconds - Int64(days) * 86400)
        let (year, month, day) = civil(fromDays: days)
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):"
            + "\(pad(secondOfDay % 60, 2)).\(pad(millis, 3))Z"
    }

    /// Seconds since the epoch of `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z` or `±HH:MM`.
    static func parse(_ text: String) -> Double? {
        let c = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= c.count else { return nil }
            var n = 0
            for k in i..<(i + width) {
                guard (48...57).contains(c[k]) else { return nil }
                n = n * 10 + Int(c[k] - 48)
            }
            i += width
            return n
        }
        func expect(_ byte: UInt8) -> Bool {
            guard i < c.count, c[i] == byte else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var seconds = Double(days(fromCivil: year, month, day)) * 86400
        if i == c.count { return seconds }
        guard expect(84) || expect(116) || expect(32), let hour = number(2), expect(58), let minute = number(2),
            hour < 24, minute < 60
        else { return nil }
        seconds += Double(hour * 3600 + minute * 60)
        if expect(58) {
            guard let second = number(2), second < 61 else { return nil }
            seconds += Double(second)
            if expect(46) || expect(44) {
                var scale = 0.1
                let start = i
                while i < c.count, (48...57).contains(c[i]) {
                    seconds += Double(c[i] - 48) * scale
                    scale /= 10
                    i += 1
                }
                guard i > start else { return nil }
            }
        }
        if expect(90) || expect(122) { return i == c.count ? seconds : nil }
        let sign: Double
        if expect(43) { sign = 1 } else if expect(45) { sign = -1 } else { return nil }
        guard let offsetHours = number(2) else { return nil }
        _ = expect(58)
        guard let offsetMinutes = number(2), i == c.count, offsetHours < 24, offsetMinutes < 60 else { return nil }
        return seconds - sign * Double(offsetHours * 3600 + offsetMinutes * 60)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Days from 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension ScriptRecording {
    /// The recorded answers as the values the built-ins return.
    fileprivate var nowValues: [Value] { now.map(Value.string) }
    fileprivate var unixValues: [Value] { unix.map(Value.int) }
    fileprivate var uuidValues: [Value] { uuids.map(Value.string) }
}
