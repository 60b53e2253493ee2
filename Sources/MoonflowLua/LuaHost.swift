internal import CLua
internal import CLuaSupport
import Crypto
import Foundation
import MoonflowModel
import OrderedCollections

/// The built-ins of SPEC §4.4 that are implemented in Swift. Called from C through `host_call`;
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
    }

    private var execution = Execution(valueDepth: ScriptLimits.defaults.valueDepth)
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

    func begin(valueDepth: Int, activity: Value?) {
        execution = Execution(valueDepth: valueDepth, activity: activity)
    }

    var logs: [ScriptLogEntry] { execution.logs }
    var events: [EmittedEvent] { execution.events }

    private enum Answer {
        case values([Value])
        case string([UInt8])
        case message(String)
        case raise(Value)
        case violation(String)
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
            case .message(let text), .violation(let text):
                var text = text
                text.withUTF8 { mf_out_append(L, $0.baseAddress, $0.count) }
                if case .violation = result { return Int32(MF_HOST_VIOLATION) }
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

    private func dispatch(_ L: OpaquePointer, _ fid: Int, _ nargs: Int) -> Answer {
        let arguments = Arguments(L: L, count: nargs, depth: execution.valueDepth)
        do {
            switch fid {
            case MF_HOST_JSON_ENCODE:
                let value = try arguments.value(1, root: "json.encode")
                return .values([.string(value.jsonString(sortedKeys: true))])
            case MF_HOST_JSON_DECODE:
                let bytes = try arguments.bytes(1, "json.decode")
                do {
                    return .values([try Value(json: bytes, maxDepth: execution.valueDepth)])
                } catch {
                    return .message("json.decode: \(error.description)")
                }
            case MF_HOST_LOG_DEBUG: return try log("debug", arguments)
            case MF_HOST_LOG_INFO: return try log("info", arguments)
            case MF_HOST_LOG_WARN: return try log("warn", arguments)
            case MF_HOST_LOG_ERROR: return try log("error", arguments)
            case MF_HOST_TIME_NOW: return .values([.string(ISOTime.format(Date()))])
            case MF_HOST_TIME_UNIX: return .values([.int(Int64(Date().timeIntervalSince1970.rounded(.down)))])
            case MF_HOST_TIME_PARSE:
                let text = String(decoding: try arguments.bytes(1, "time.parse"), as: UTF8.self)
                guard let seconds = ISOTime.parse(text) else { return .message("time.parse: not an ISO 8601 time: '\(text.prefix(64))'") }
                return .values([seconds.rounded() == seconds && abs(seconds) < 9e15 ? .int(Int64(seconds)) : .double(seconds)])
            case MF_HOST_UUID: return .values([.string(UUID().uuidString.lowercased())])
            case MF_HOST_BASE64_ENCODE:
                return .values([.string(Data(try arguments.bytes(1, "base64.encode")).base64EncodedString())])
            case MF_HOST_BASE64_DECODE:
                let text = String(decoding: try arguments.bytes(1, "base64.decode"), as: UTF8.self)
                guard let data = Data(base64Encoded: text) else { return .message("base64.decode: invalid base64") }
                return .string(Array(data))
            case MF_HOST_HEX_ENCODE: return .values([.string(Hex.encode(try arguments.bytes(1, "hex.encode")))])
            case MF_HOST_HEX_DECODE:
                guard let bytes = Hex.decode(try arguments.bytes(1, "hex.decode")) else { return .message("hex.decode: invalid hexadecimal") }
                return .string(bytes)
            case MF_HOST_HASH_SHA256:
                return .values([.string(Hex.encode(Array(SHA256.hash(data: try arguments.bytes(1, "hash.sha256")))))])
            case MF_HOST_HMAC_SHA256:
                let key = SymmetricKey(data: try arguments.bytes(1, "hmac.sha256"))
                let code = HMAC<SHA256>.authenticationCode(for: try arguments.bytes(2, "hmac.sha256"), using: key)
                return .values([.string(Hex.encode(Array(code)))])
            case MF_HOST_EMIT:
                let type = try arguments.text(1, "emit")
                guard LuaSandbox.isValidErrorType(type) else { return .message("emit: invalid event type '\(type.prefix(64))'") }
                let payload = nargs >= 2 ? try arguments.value(2, root: "emit payload") : .object([:])
                guard execution.events.count < Self.maxEvents else { return .violation("emit: more than \(Self.maxEvents) events") }
                execution.events.append(EmittedEvent(type: type, payload: payload))
                return .values([])
            case MF_HOST_FAIL:
                let type = try arguments.text(1, "fail")
                guard LuaSandbox.isValidErrorType(type) else { return .message("fail: invalid error type '\(type.prefix(64))'") }
                var error: OrderedDictionary<String, Value> = ["type": .string(type)]
                if nargs >= 2, !arguments.isNil(2) { error["message"] = .string(try arguments.text(2, "fail")) }
                if nargs >= 3, !arguments.isNil(3) { error["details"] = try arguments.value(3, root: "fail details") }
                return .raise(.object(error))
            case MF_HOST_TEST_LEDGER:
                let tag = try arguments.text(1, "test.ledger")
                guard let testLedger, let activity = execution.activity else { return .message("test.ledger: only code actions run with a test ledger") }
                if let problem = testLedger.append(tag: tag, activity: activity) { return .message("test.ledger: \(problem)") }
                return .values([])
            default:
                return .message("unknown built-in")
            }
        } catch {
            return .message(error.message)
        }
    }

    private func log(_ level: String, _ arguments: Arguments) throws(ActivityFailure) -> Answer {
        let message = arguments.display(1)
        let fields = arguments.count >= 2 && !arguments.isNil(2) ? try arguments.value(2, root: "log fields") : .object([:])
        guard execution.logs.count < Self.maxLogEntries, execution.logBytes < Self.maxLogBytes else { return .values([]) }
        execution.logBytes += message.utf8.count + fields.jsonString().utf8.count
        if execution.logs.count == Self.maxLogEntries - 1 || execution.logBytes >= Self.maxLogBytes {
            execution.logs.append(ScriptLogEntry(level: "warn", message: "log limit reached; later entries dropped"))
        } else {
            execution.logs.append(ScriptLogEntry(level: level, message: message, fields: fields))
        }
        return .values([])
    }
}

/// Arguments of a host call, read raw.
private struct Arguments {
    let L: OpaquePointer
    let count: Int
    let depth: Int

    func isNil(_ index: Int) -> Bool { index > count || lua_type(L, Int32(index)) == LUA_TNIL }

    func bytes(_ index: Int, _ function: String) throws(ActivityFailure) -> [UInt8] {
        guard index <= count, lua_type(L, Int32(index)) == LUA_TSTRING else {
            let got = index <= count ? String(cString: lua_typename(L, lua_type(L, Int32(index)))) : "no value"
            throw ActivityFailure(.activityError, "bad argument #\(index) to '\(function)' (string expected, got \(got))")
        }
        return Array(LuaValueReader.bytes(L, Int32(index)))
    }

    func text(_ index: Int, _ function: String) throws(ActivityFailure) -> String {
        String(decoding: try bytes(index, function), as: UTF8.self)
    }

    func value(_ index: Int, root: String) throws(ActivityFailure) -> Value {
        var reader = LuaValueReader(L, root: root, maxDepth: depth, maxSize: 16 << 20)
        do {
            return try reader.read(Int32(index))
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

enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var index = 0
        while index < text.count {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
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
