/// Which entries of `steps` a chunk of Lua can read, found from its source once, so a body is
/// given only those (docs/sandbox.md): building and encoding the outputs of every finished
/// activity for each execution cost more than the rest of a step in long workflows.
///
/// Scripts cannot load code (`load` and its kin are absent), so the environment's `steps` is
/// reachable only through the name `steps` itself or through `_ENV`. Every whole-word `steps` in
/// the source — in code, strings or comments alike — must be followed by `.name` or
/// `["name"]`/`['name']` for the use to be `.names`; anything else (`pairs(steps)`,
/// `local s = steps`, `steps[key]`, a mention in a comment), or `_ENV` anywhere, is `.all`. Being
/// wrong the safe way only costs time.
package enum StepsUse: Sendable, Hashable {
    case none
    /// Only these entries, in the order first seen.
    case names([String])
    case all

    package init(scanning source: String) {
        var names: [String] = []
        var scanner = Scanner(Array(source.utf8))
        while let word = scanner.nextWord() {
            if word.elementsEqual(Self.environment) { self = .all; return }
            guard word.elementsEqual(Self.steps) else { continue }
            guard let name = scanner.entryName() else { self = .all; return }
            if !names.contains(name) { names.append(name) }
        }
        self = names.isEmpty ? .none : .names(names)
    }

    /// Whether the entry of the activity `name` is needed.
    package func includes(_ name: String) -> Bool {
        switch self {
        case .none: false
        case .names(let names): names.contains(name)
        case .all: true
        }
    }

    /// The use of two chunks run with the same `steps`.
    package func union(_ other: StepsUse) -> StepsUse {
        switch (self, other) {
        case (.all, _), (_, .all): .all
        case (.none, let use), (let use, .none): use
        case (.names(let a), .names(let b)): .names(a + b.filter { !a.contains($0) })
        }
    }

    private static let steps = Array("steps".utf8)
    private static let environment = Array("_ENV".utf8)

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        static func isWordStart(_ byte: UInt8) -> Bool {
            (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte >= 0x80
        }

        static func isWord(_ byte: UInt8) -> Bool { isWordStart(byte) || (byte >= 0x30 && byte <= 0x39) }

        /// The next whole word (a Lua name, or a number's letters), anywhere in the text.
        mutating func nextWord() -> ArraySlice<UInt8>? {
            while index < bytes.count {
                guard Self.isWord(bytes[index]) else {
                    index += 1
                    continue
                }
                let start = index
                while index < bytes.count, Self.isWord(bytes[index]) { index += 1 }
                return bytes[start..<index]
            }
            return nil
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        /// After `steps`: the name in `.name` or `["name"]`, or `nil` for any other use.
        mutating func entryName() -> String? {
            skipSpace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "."):
                index += 1
                guard index < bytes.count, bytes[index] != UInt8(ascii: ".") else { return nil }  // `..`
                skipSpace()
                guard index < bytes.count, Self.isWordStart(bytes[index]) else { return nil }
                let start = index
                while index < bytes.count, Self.isWord(bytes[index]) { index += 1 }
                return String(decoding: bytes[start..<index], as: UTF8.self)
            case UInt8(ascii: "["):
                index += 1
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else { return nil }
                let quote = bytes[index]
                index += 1
                let start = index
                while index < bytes.count, bytes[index] != quote {
                    // An escape or a line break: not a plain name, so not worth reading.
                    guard bytes[index] != UInt8(ascii: "\\"), bytes[index] != 0x0A else { return nil }
                    index += 1
                }
                guard index < bytes.count else { return nil }
                let name = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "]") else { return nil }
                index += 1
                return name
            default:
                return nil
            }
        }
    }
}
