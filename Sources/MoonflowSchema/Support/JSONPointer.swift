import Foundation
import MoonflowModel

/// RFC 6901 JSON Pointers as arrays of unescaped reference tokens.
enum JSONPointer {
    /// Parses a pointer (already percent-decoded when it came from a URI fragment).
    static func tokens(_ pointer: String) -> [String]? {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { return nil }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(unescape)
    }

    static func unescape(_ token: Substring) -> String {
        guard token.contains("~") else { return String(token) }
        return String(token).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
    }

    static func escape(_ token: String) -> String {
        guard token.contains("~") || token.contains("/") else { return token }
        return token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    static func string<S: Sequence<String>>(_ tokens: S) -> String {
        tokens.reduce(into: "") { $0 += "/" + escape($1) }
    }

    /// The value the tokens lead to inside `root`, or `nil` when a step is missing.
    static func resolve(_ tokens: [String], in root: Value) -> Value? {
        var current = root
        for token in tokens {
            switch current {
            case .object(let members):
                guard let next = members[token] else { return nil }
                current = next
            case .array(let items):
                guard let index = arrayIndex(token), index < items.count else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    private static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token == "0" || !token.hasPrefix("0"),
            token.unicodeScalars.allSatisfy(\.isASCIIDigit)
        else { return nil }
        return Int(token)
    }
}
