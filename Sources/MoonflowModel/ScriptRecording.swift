import OrderedCollections

/// The results of the non-deterministic built-ins one execution of a code action used, in the
/// order it called them: `time.now`, `time.unix`, `uuid`, the seeds `math.random` drew, and what
/// each `http.request` answered (docs/operations.md, "Replay"). Given back to a replay of the
/// execution (`ScriptInvocation.replay`), they make an unchanged script compute exactly what it
/// computed. Bounded: past `maxEntries` calls of one kind, or `maxHTTPBytes` of answers, the
/// rest is not kept and the recording says it is `truncated` (its replay cannot be exact).
package struct ScriptRecording: Sendable, Hashable {
    package static let maxEntries = 1000
    package static let maxHTTPBytes = 1 << 20
    /// Seeds the sandbox keeps (`MF_MAX_SEEDS`).
    package static let maxSeeds = 16

    /// `time.now` answers (ISO 8601 texts).
    package var now: [String] = []
    /// `time.unix` answers.
    package var unix: [Int64] = []
    package var uuids: [String] = []
    /// The 128-bit seeds `math.random` drew from the OS, as two 64-bit words each.
    package var seeds: [[UInt64]] = []
    /// Each `http.request`'s answer `{status, headers, json | body}`, or `{error: {type, message, …}}`.
    package var http: [Value] = []
    package var truncated = false

    package init() {}

    package var isEmpty: Bool { now.isEmpty && unix.isEmpty && uuids.isEmpty && seeds.isEmpty && http.isEmpty && !truncated }

    /// `{now?, unix?, uuid?, random_seeds?, http?, truncated?}`: only what was used. Seed words are
    /// written as 16 hex digits (JSON numbers cannot hold 64 bits exactly).
    package func toValue() -> Value {
        var object: OrderedDictionary<String, Value> = [:]
        if !now.isEmpty { object["now"] = .array(now.map(Value.string)) }
        if !unix.isEmpty { object["unix"] = .array(unix.map(Value.int)) }
        if !uuids.isEmpty { object["uuid"] = .array(uuids.map(Value.string)) }
        if !seeds.isEmpty {
            object["random_seeds"] = .array(seeds.map { words in .array(words.map { .string(Self.hex($0)) }) })
        }
        if !http.isEmpty { object["http"] = .array(http) }
        if truncated { object["truncated"] = true }
        return .object(object)
    }

    /// Reads back `toValue()`; `nil` when a member has the wrong shape.
    package init?(value: Value) {
        guard case .object(let object) = value else { return nil }
        for (key, member) in object {
            switch (key, member) {
            case ("now", .array(let items)):
                now = items.compactMap(\.stringValue)
                guard now.count == items.count else { return nil }
            case ("unix", .array(let items)):
                unix = items.compactMap(\.intValue)
                guard unix.count == items.count else { return nil }
            case ("uuid", .array(let items)):
                uuids = items.compactMap(\.stringValue)
                guard uuids.count == items.count else { return nil }
            case ("random_seeds", .array(let items)):
                for item in items {
                    let words = item.arrayValue?.compactMap { $0.stringValue.flatMap { UInt64($0, radix: 16) } } ?? []
                    guard words.count == 2 else { return nil }
                    seeds.append(words)
                }
            case ("http", .array(let items)): http = items
            case ("truncated", .bool(let flag)): truncated = flag
            default: return nil
            }
        }
    }

    private static func hex(_ word: UInt64) -> String {
        let digits = String(word, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
