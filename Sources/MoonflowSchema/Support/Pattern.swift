import Foundation

/// A compiled `pattern` / `patternProperties` regex.
///
/// JSON Schema asks for ECMA-262 regexes; this runs them on ICU through `NSRegularExpression`
/// after rewriting the constructs whose meaning differs (see docs/json-schema.md):
/// `\d`, `\w` and their negations are ASCII-only in ECMA-262, `\s` is ECMA-262's white space and
/// line terminators, and `$` matches only at the very end.
///
/// Matching is bounded (docs/json-schema.md): ICU calls back every few thousand backtracking steps and at
/// every start position when `reportProgress` is asked for, and the callback stops the match once
/// the `RegexBudget` of the validation is spent. The match stops on the thread that runs it, so
/// the bound is on CPU time, not only on waiting.
struct Pattern: Sendable {
    let source: String
    private let regex: NSRegularExpression

    init(_ source: String) throws {
        self.source = source
        regex = try NSRegularExpression(pattern: Pattern.translate(source), options: [])
    }

    /// ECMA-262 semantics: the pattern may match anywhere in the string (not anchored).
    /// `nil` when the budget ran out before the answer was known (the budget is then exhausted).
    func matches(_ text: String, budget: inout RegexBudget) -> Bool? {
        guard !budget.isExhausted else { return nil }
        let clock = ContinuousClock()
        let cpuStart = threadCPUTime()
        let remaining = budget.remaining
        var deadline = clock.now.advanced(by: remaining)
        var found = false
        var stopped = false
        var callbacks = 0
        regex.enumerateMatches(in: text, options: [.reportProgress], range: NSRange(location: 0, length: text.utf16.count)) { result, _, stop in
            if result != nil {
                found = true
                stop.pointee = true
                return
            }
            // Called every few thousand steps of one match, or once per start position of a
            // search: the wall clock, read every fourth call, is cheap; only when it passes the
            // deadline is the thread's CPU time read, and a thread that was waiting for a core
            // gets the rest of its budget (the bound is on CPU time, not on a busy machine).
            callbacks &+= 1
            guard callbacks & 3 == 0 else { return }
            let now = clock.now
            guard now >= deadline else { return }
            let used = threadCPUTime() - cpuStart
            if used >= remaining {
                stopped = true
                stop.pointee = true
            } else {
                deadline = now.advanced(by: remaining - used)
            }
        }
        budget.spend(threadCPUTime() - cpuStart)
        if stopped {
            budget.isExhausted = true
            return nil
        }
        return found
    }

    /// ECMA-262 `WhiteSpace` and `LineTerminator`, as ICU class content.
    private static let whiteSpace = "\\t\\n\\u000B\\f\\r \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF"

    static func translate(_ source: String) -> String {
        var out = ""
        var inClass = false
        var scalars = source.unicodeScalars.makeIterator()
        while let c = scalars.next() {
            switch c {
            case "\\":
                guard let next = scalars.next() else { out += "\\"; continue }
                switch (next, inClass) {
                case ("d", false): out += "[0-9]"
                case ("D", false): out += "[^0-9]"
                case ("w", false): out += "[A-Za-z0-9_]"
                case ("W", false): out += "[^A-Za-z0-9_]"
                case ("s", false): out += "[" + whiteSpace + "]"
                case ("S", false): out += "[^" + whiteSpace + "]"
                case ("s", true): out += whiteSpace
                case ("d", true): out += "0-9"
                case ("w", true): out += "A-Za-z0-9_"
                default:
                    out.unicodeScalars.append(c)
                    out.unicodeScalars.append(next)
                }
            case "[" where !inClass:
                inClass = true
                out += "["
            case "]" where inClass:
                inClass = false
                out += "]"
            case "$" where !inClass:
                out += "\\z"
            default:
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// The CPU time the calling thread has used.
func threadCPUTime() -> Duration {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
}

/// The CPU time one validation may spend matching regexes, shared by all its patterns.
struct RegexBudget {
    private(set) var remaining: Duration
    var isExhausted = false

    init(_ limit: Duration) { remaining = limit }

    mutating func spend(_ elapsed: Duration) {
        remaining = max(.zero, remaining - elapsed)
        if remaining == .zero { isExhausted = true }
    }
}
