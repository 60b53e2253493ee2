import Foundation
import MoonflowModel
import MoonflowSchema
import MoonflowYAML

/// Refuses, at load, `pattern`s and `patternProperties` keys with a nested repetition such as
/// `^(a+)+$` (`PatternShape`): they run on data API callers send, and a failing match can take
/// exponential time. The validator's time budget bounds what such a pattern costs; this check
/// tells the author at `file:line:col` before anyone pays it. Pinned definitions are not
/// re-checked, so runs started before the check existed still recover.
enum SchemaPatternCheck {
    struct Finding {
        /// Where in the schema: object keys and array indices down to the `pattern` value, or to
        /// the `patternProperties` key.
        var path: [String]
        var pattern: String
        var nested: String

        var message: String {
            "the pattern '\(pattern)' repeats a group that is itself a repetition ('\(nested)'): a failing match can take exponential time"
        }
        static let hint = "write the repetition once, e.g. ^(a+)+$ → ^a+$, ^(\\w+\\s?)*$ → ^[\\w\\s]*$"
    }

    /// Keywords whose values are data, not schemas.
    private static let dataKeywords: Set<String> = ["const", "enum", "default", "examples"]

    static func findings(in value: Value, path: [String] = [], depth: Int = 0) -> [Finding] {
        guard depth < 64 else { return [] }
        var found: [Finding] = []
        switch value {
        case .object(let members):
            for (key, member) in members where !dataKeywords.contains(key) {
                if key == "pattern", case .string(let source) = member, let nested = PatternShape.nestedRepetition(in: source) {
                    found.append(Finding(path: path + [key], pattern: source, nested: nested))
                    continue
                }
                if key == "patternProperties", case .object(let patterns) = member {
                    for source in patterns.keys {
                        if let nested = PatternShape.nestedRepetition(in: source) {
                            found.append(Finding(path: path + [key, source], pattern: source, nested: nested))
                        }
                    }
                }
                found += findings(in: member, path: path + [key], depth: depth + 1)
            }
        case .array(let items):
            for (i, item) in items.enumerated() { found += findings(in: item, path: path + [String(i)], depth: depth + 1) }
        default: break
        }
        return found
    }

    /// The YAML node at `path` under `node`: a mapping's value, or its key for the last step when
    /// `key` is true (a `patternProperties` pattern is a key).
    static func node(at path: [String], in node: YAMLNode, key: Bool) -> YAMLNode {
        var current = node
        for (i, token) in path.enumerated() {
            if let pairs = current.mapping, let pair = pairs.first(where: { $0.key.scalar?.text == token }) {
                if key, i == path.count - 1 { return pair.key }
                current = pair.value
            } else if let items = current.sequence, let index = Int(token), items.indices.contains(index) {
                current = items[index]
            } else {
                break
            }
        }
        return current
    }

    /// `/properties/name/pattern` (RFC 6901).
    static func pointer(_ path: [String]) -> String {
        path.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
    }

    /// Line and column of the first occurrence of `pattern` written as a JSON string in `text`
    /// (the schema file has no positions once parsed); `nil` when it is written another way.
    static func location(of pattern: String, in text: String, file: String) -> SourceLocation? {
        let literal = Value.string(pattern).jsonString()
        guard let range = text.range(of: literal) else { return nil }
        let before = text[..<range.lowerBound]
        let line = before.reduce(into: 1) { if $1 == "\n" { $0 += 1 } }
        let column = before.reversed().prefix { $0 != "\n" }.count + 1
        return SourceLocation(file: file, line: line, column: column)
    }
}
