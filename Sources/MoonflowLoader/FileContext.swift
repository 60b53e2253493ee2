import MoonflowModel
import MoonflowYAML

/// The diagnostics of one file being read. Readers report into it and carry on, so every error of
/// a file is found in one pass.
final class FileContext {
    let file: String
    /// The file's lines, to look at what YAML dropped (comments) when explaining an error.
    let lines: [Substring]
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String, source: String = "") {
        self.file = file
        self.lines = source.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// The text of a 1-based line, if the file has it.
    func line(_ number: Int) -> Substring? { lines.indices.contains(number - 1) ? lines[number - 1] : nil }

    var hasErrors: Bool { !diagnostics.isEmpty }

    /// The diagnostics in file order (readers find them section by section).
    var sortedDiagnostics: [Diagnostic] {
        diagnostics.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
    }

    func error(_ code: DiagnosticCode, _ message: String, at location: SourceLocation, hint: String? = nil) {
        diagnostics.append(Diagnostic(code, message, at: location, hint: hint))
    }

    func error(_ code: DiagnosticCode, _ message: String, at node: YAMLNode, hint: String? = nil) {
        error(code, message, at: node.location, hint: hint)
    }

    func append(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }
}

/// The keys of one YAML mapping, checked against the keys its place in the format allows.
/// Unknown keys are reported once, with the closest allowed key as a suggestion.
struct MappingReader {
    let node: YAMLNode
    private var values: [String: YAMLNode] = [:]
    private var keyNodes: [String: YAMLNode] = [:]
    private(set) var keys: [String] = []

    /// `nil` (with an error reported) when `node` is not a mapping.
    init?(_ node: YAMLNode, _ context: FileContext, what: String, allowed: [String]) {
        self.node = node
        guard let pairs = node.mapping else {
            context.error(.typeMismatch, "\(what) must be a mapping, not \(node.kindDescription)", at: node)
            return nil
        }
        for pair in pairs {
            guard let key = pair.key.scalar?.text else {
                context.error(.typeMismatch, "keys of \(what) must be plain names, not \(pair.key.kindDescription)", at: pair.key)
                continue
            }
            guard allowed.contains(key) else {
                var message = "unknown key '\(key)' in \(what)"
                if let suggestion = Suggest.closest(to: key, in: allowed) { message += " — did you mean '\(suggestion)'?" }
                context.error(.unknownKey, message, at: pair.key, hint: "allowed keys: \(allowed.joined(separator: ", "))")
                continue
            }
            values[key] = pair.value
            keyNodes[key] = pair.key
            keys.append(key)
        }
    }

    subscript(key: String) -> YAMLNode? { values[key] }
    func has(_ key: String) -> Bool { values[key] != nil }
    func keyLocation(_ key: String) -> SourceLocation { keyNodes[key]?.location ?? node.location }
}

/// "Did you mean" suggestions by edit distance.
enum Suggest {
    static func closest(to word: String, in candidates: [String]) -> String? {
        // Short words get one edit: 'zz' is not a typo of 'a'.
        let limit = word.count <= 3 ? 1 : max(2, word.count / 3)
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(word.lowercased(), candidate.lowercased())
            if d <= limit, d < (best?.1 ?? Int.max) { best = (candidate, d) }
        }
        return best?.0
    }

    /// Damerau–Levenshtein (optimal string alignment) distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
