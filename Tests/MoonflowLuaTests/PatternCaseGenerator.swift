/// Deterministic generator of Lua pattern-matching cases: patterns built from every element of
/// the Lua 5.4 pattern language (classes and their complements, sets with ranges and `^`,
/// anchors, the four quantifiers, captures and position captures, back-references, `%b`, `%f`,
/// `.` and escapes), now and then malformed, and short subjects over an alphabet those patterns
/// can match (including a zero byte and bytes above 127).
struct PatternCaseGenerator {
    /// One call of each of `string.find/match/gmatch/gsub` on `subject` and `pattern`.
    struct Case {
        var subject: [UInt8]
        var pattern: [UInt8]
        /// `init` of find, match and gmatch (nil: omitted).
        var start: Int?
        /// `plain` of find.
        var plain: Bool
        /// Index (1-based) into the harness's replacements for gsub.
        var replacement: Int
        /// `n` of gsub (nil: omitted).
        var limit: Int?
    }

    /// Replacements for gsub, as Lua expressions (strings with every `%` form, a function, a table).
    static let replacements = [
        #""%0""#, #""<%1>""#, #""%2%1""#, #""%%""#, #""x""#, #""%""#, #""%a""#, #""""#, #""[%0|%1]""#,
        "function(a, b) if a == 'a' then return false end return '{' .. tostring(a) .. ',' .. tostring(b) .. '}' end",
        "{a = 'A', b = 7, ab = false, ['1'] = 'one', c = true}",
    ]

    private var state: UInt64
    /// Captures of the pattern being generated: how many were opened, which were closed (the
    /// back-references a pattern may hold).
    private var opened = 0
    private var closed: [Int] = []

    init(seed: UInt64) { state = seed }

    /// SplitMix64.
    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    private mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    private mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    private static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// Subject bytes, the common ones repeated so that patterns over them often match.
    private static let subjectBytes: [UInt8] = bytes("aaabbbcABZ0019  .,-()[]%^$") + [9, 10, 0, 0x80, 0xFF]
    private static let literals = bytes("abcAZ01 ,")
    private static let escaped = ["%.", "%(", "%)", "%%", "%-", "%]", "%[", "%^", "%$", "%*", "%+", "%?"]
    /// Classes, their complements, and letters that are no class (`%z` matches 'z').
    private static let classes = ["%a", "%d", "%s", "%w", "%p", "%x", "%u", "%l", "%c", "%g", "%z", "%q"]

    mutating func makeCase() -> Case {
        let (subject, pattern) = chance(2) ? long() : (short(), pattern())
        let span = subject.count + 3
        return Case(
            subject: subject, pattern: pattern, start: chance(35) ? below(2 * span) - span : nil, plain: chance(10),
            replacement: below(Self.replacements.count) + 1, limit: chance(25) ? below(4) : nil)
    }

    private mutating func short() -> [UInt8] { (0..<below(30)).map { _ in pick(Self.subjectBytes) } }

    private mutating func pattern() -> [UInt8] {
        opened = 0
        closed = []
        var pattern = [UInt8]()
        if chance(20) { pattern += Self.bytes("^") }
        pattern += sequence(depth: 0)
        if chance(20) { pattern += Self.bytes("$") }
        if chance(4) { pattern += Self.bytes(pick(["%", "(", ")", "[a", "%b", "%f", "%fa", "%9"])) }
        return pattern
    }

    /// A unit repeated up to 260 times over a run of `a`s: the matcher's depth (200 nested calls:
    /// "pattern too complex") and capture (32: "too many captures") limits, without the
    /// backtracking that would take Lua's own matcher, which has no budget, forever.
    private mutating func long() -> ([UInt8], [UInt8]) {
        let unit = pick(["a?", "(a)", "a-", "()", "a*", "%a?", "[a]?"])
        let subject = [UInt8](repeating: UInt8(ascii: "a"), count: below(260))
        return (subject, Array(String(repeating: unit, count: 1 + below(260)).utf8))
    }

    private mutating func sequence(depth: Int) -> [UInt8] {
        var out = [UInt8]()
        for _ in 0..<(1 + below(depth == 0 ? 4 : 3)) { out += item(depth: depth) }
        return out
    }

    private mutating func item(depth: Int) -> [UInt8] {
        switch below(100) {
        case 0..<62:
            var single = self.single()
            switch below(9) {
            case 0: single += Self.bytes("*")
            case 1: single += Self.bytes("+")
            case 2: single += Self.bytes("-")
            case 3: single += Self.bytes("?")
            default: break
            }
            return single
        case 62..<74 where depth < 2:
            opened += 1
            let index = opened
            let group = Self.bytes("(") + sequence(depth: depth + 1) + Self.bytes(")")
            closed.append(index)
            return group
        case 74..<78:
            opened += 1
            closed.append(opened)
            return Self.bytes("()")
        case 78..<82:
            // Mostly a capture already closed; now and then one that is open, missing or `%0`.
            if !closed.isEmpty && !chance(15) { return Self.bytes("%\(pick(closed))") }
            return Self.bytes(pick(["%1", "%2", "%0"]))
        case 82..<88:
            return Self.bytes(pick(["%b()", "%b[]", "%bab", "%baa", "%b%$"]))
        case 88..<94:
            return Self.bytes("%f") + set()
        default:
            return Self.bytes(pick([".", "$", "^", "-", "*"]))
        }
    }

    /// One single-character class: a literal, an escape, `.`, a class or a set.
    private mutating func single() -> [UInt8] {
        switch below(10) {
        case 0..<4: return [pick(Self.literals)]
        case 4: return Self.bytes(pick(Self.escaped))
        case 5: return Self.bytes(".")
        case 6, 7:
            let name = pick(Self.classes)
            return Self.bytes(chance(35) ? name.uppercased() : name)
        default: return set()
        }
    }

    private mutating func set() -> [UInt8] {
        var out = Self.bytes("[")
        if chance(30) { out += Self.bytes("^") }
        if chance(10) { out += Self.bytes("]") }
        for _ in 0..<(1 + below(3)) {
            switch below(6) {
            case 0: out += Self.bytes(pick(["a-c", "0-9", "A-Z", "b-a", "--/", "a-"]))
            case 1: out += Self.bytes(pick(Self.classes))
            case 2: out += Self.bytes(pick(["%]", "%-", "%%", "%^", "-"]))
            default: out.append(pick(Self.literals + Self.bytes(".()$^")))
            }
        }
        if !chance(3) { out += Self.bytes("]") }
        return out
    }
}
