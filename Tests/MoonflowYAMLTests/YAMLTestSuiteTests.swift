import Foundation
import MoonflowModel
import MoonflowYAML
import Testing

/// The public yaml-test-suite (data only, in `../shared/testdata` beside the repository): every case
/// that must be rejected is rejected, every case with expected JSON reads to that JSON, the rest parse.
/// Moonflow is stricter than YAML in a few documented ways; those cases are listed with reasons,
/// and the test fails if one of them starts passing, so the list never goes stale.
@Suite struct YAMLTestSuiteTests {
    static let suiteDirectory: String = {
        let thisFile = "\(#filePath)"
        var root = thisFile[..<thisFile.lastIndex(of: "/")!]  // Tests/MoonflowYAMLTests
        for _ in 0..<2 { root = root[..<root.lastIndex(of: "/")!] }  // the repository root
        return root + "/../shared/testdata/yaml-test-suite"
    }()

    static let suiteIsPresent = FileManager.default.fileExists(atPath: suiteDirectory)

    /// Cases where the result differs from the suite: on purpose (Moonflow's rules), or because
    /// libyaml 0.2.5, the parser (docs/workflow-format.md), reads the case differently.
    static let expectedFailures: [String: String] = {
        let groups: [(reason: String, ids: [String])] = [
            // Moonflow's own rules
            ("Moonflow: duplicate key (the alias *a repeats the first key, the same node)", ["X38W"]),
            // libyaml refuses valid YAML 1.2
            ("libyaml: refuses tabs YAML 1.2 allows as separation or in block scalar content",
             ["6BCT", "6CA3", "96NN/00", "96NN/01", "A2M4", "DK95/00", "DK95/03", "DK95/04", "Q5MG", "R4YG", "Y79Y/001", "Y79Y/010"]),
            ("libyaml: refuses reserved directives and %YAML 1.3, and directives after `...`",
             ["2LFX", "6LVF", "BEC7", "MUS6/05", "MUS6/06", "W4TN"]),
            ("libyaml: refuses a bare document after `...` and zero-indented top-level block scalars", ["7Z25", "DK3J", "FP8R", "M7A3"]),
            ("libyaml: refuses a stream of only a document-end marker", ["HWV9", "QT73"]),
            ("libyaml: refuses empty implicit keys (`: value`)",
             ["2JQS", "6M2F", "M2N8/00", "NHX8", "NKF9", "S3PD", "SM9W/01", "UKK6/00"]),
            ("libyaml: refuses YAML 1.2 flow forms (JSON-like `\"a\":b`, `:` on the next line, multi-line or empty keys, `:` starting a scalar)",
             ["4ABK", "4MUZ/00", "4MUZ/01", "4MUZ/02", "58MP", "5MUD", "5T43", "9SA2", "CFD4", "DBG4", "FRK4", "HM87/00", "K3WX", "NJ66", "UT92", "VJP3/01"]),
            ("libyaml: allows only ASCII letters, digits, `-` and `_` in anchor names", ["2SXE", "8XYN", "W5VH"]),
            // libyaml reads valid YAML differently
            ("libyaml: reads `?foo` in a flow collection as an explicit key", ["652Z", "HM87/01"]),
            ("libyaml: ends an anchor name at `:`", ["Y2GN"]),
            ("libyaml: drops trailing whitespace-only lines of a kept literal scalar", ["JEF9/02", "L24T/01"]),
            // libyaml accepts invalid YAML
            ("libyaml: accepts wrongly indented or misplaced content",
             ["9C9N", "DK95/01", "QB6E", "S98Z", "Y79Y/003"]),
            ("libyaml: accepts comments not preceded by whitespace", ["9JBA", "CVW2", "SU5Z", "X4QW"]),
            ("libyaml: accepts `-` as a plain scalar in a flow sequence", ["G5U8", "YJV2"]),
            ("libyaml: accepts directives without the `...` that must end the previous document, and bad %YAML versions",
             ["9HCY", "EB22", "MUS6/00", "MUS6/01", "RHX7"]),
        ]
        var reasons: [String: String] = [:]
        for group in groups {
            for id in group.ids { reasons[id] = group.reason }
        }
        return reasons
    }()

    struct Outcome {
        var id: String
        var failure: String?
    }

    /// Case directories: `ID/` or, for multi-case ids, `ID/NN/`.
    static func caseIDs() throws -> [String] {
        let fileManager = FileManager.default
        var ids: [String] = []
        for entry in try fileManager.contentsOfDirectory(atPath: suiteDirectory).sorted() {
            let path = suiteDirectory + "/" + entry
            if fileManager.fileExists(atPath: path + "/in.yaml") {
                ids.append(entry)
            } else if entry.count == 4, let subcases = try? fileManager.contentsOfDirectory(atPath: path) {
                ids += subcases.sorted().filter { fileManager.fileExists(atPath: "\(path)/\($0)/in.yaml") }.map { "\(entry)/\($0)" }
            }
        }
        return ids
    }

    static func run(_ id: String) throws -> Outcome {
        let directory = suiteDirectory + "/" + id
        let fileManager = FileManager.default
        let input = Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/in.yaml")))
        let parsed = Result { () throws(DiagnosticList) in try YAMLParser.parseDocuments(input, file: id + "/in.yaml") }
        if fileManager.fileExists(atPath: directory + "/error") {
            if case .success = parsed { return Outcome(id: id, failure: "accepted an invalid file") }
            return Outcome(id: id)
        }
        let documents: [YAMLNode]
        switch parsed {
        case .success(let value): documents = value
        case .failure(let error): return Outcome(id: id, failure: "rejected: \(error.description)")
        }
        guard let json = fileManager.contents(atPath: directory + "/in.json") else { return Outcome(id: id) }
        let expected: [Value]
        do {
            expected = try splitJSONValues(json).map { try Value(json: $0) }
        } catch {
            return Outcome(id: id, failure: "unreadable in.json: \(error)")
        }
        var actual: [Value] = []
        for document in documents {
            do {
                actual.append(try document.toValue())
            } catch {
                return Outcome(id: id, failure: "toValue: \(error.description)")
            }
        }
        let same = actual.count == expected.count && zip(actual, expected).allSatisfy(sameJSON)
        return same ? Outcome(id: id) : Outcome(id: id, failure: "got \(actual), expected \(expected)")
    }

    /// Equality as JSON sees it: one number type, so `450.00` (a double for Moonflow) equals the
    /// suite's `450`.
    static func sameJSON(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.int, .double), (.double, .int): return a.numberValue == b.numberValue
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy(sameJSON)
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { sameJSON(value, $0) } ?? false }
        default: return a == b
        }
    }

    /// Splits a stream of concatenated JSON values (one per YAML document) into single values.
    static func splitJSONValues(_ data: Data) -> [[UInt8]] {
        let bytes = [UInt8](data)
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        let opening: Set<UInt8> = [UInt8(ascii: "["), UInt8(ascii: "{")]
        let closing: Set<UInt8> = [UInt8(ascii: "]"), UInt8(ascii: "}")]
        let space: Set<UInt8> = [0x20, 0x0A, 0x0D, 0x09]
        var values: [[UInt8]] = []
        var index = 0
        /// The index after the string whose opening quote is at `start`.
        func endOfString(from start: Int) -> Int {
            var i = start + 1
            while i < bytes.count && bytes[i] != quote { i += bytes[i] == backslash ? 2 : 1 }
            return i + 1
        }
        while index < bytes.count {
            let start = index
            if space.contains(bytes[index]) {
                index += 1
                continue
            } else if bytes[index] == quote {
                index = endOfString(from: index)
            } else if opening.contains(bytes[index]) {
                var depth = 0
                repeat {
                    if bytes[index] == quote {
                        index = endOfString(from: index)
                        continue
                    }
                    if opening.contains(bytes[index]) { depth += 1 }
                    if closing.contains(bytes[index]) { depth -= 1 }
                    index += 1
                } while depth > 0 && index < bytes.count
            } else {
                // A number, true, false or null: up to whitespace or the next value.
                while index < bytes.count && !space.contains(bytes[index]) && bytes[index] != quote && !opening.contains(bytes[index]) {
                    index += 1
                }
            }
            values.append(Array(bytes[start..<min(index, bytes.count)]))
        }
        return values
    }

    @Test func jsonSplitterSeparatesConcatenatedValues() {
        let text = Data("{\"a\": [1, \"]\"]}\n\"x\\\"y\" 12\nnull[true]\n".utf8)
        #expect(Self.splitJSONValues(text).map { String(decoding: $0, as: UTF8.self) } == ["{\"a\": [1, \"]\"]}", "\"x\\\"y\"", "12", "null", "[true]"])
    }

    @Test(.enabled(if: suiteIsPresent, "yaml-test-suite not found at ../shared/testdata/yaml-test-suite; skipped"))
    func conformance() throws {
        let outcomes = try Self.caseIDs().map(Self.run)
        #expect(outcomes.count > 300)
        for outcome in outcomes {
            let reason = Self.expectedFailures[outcome.id]
            if let failure = outcome.failure, reason == nil {
                Issue.record("\(outcome.id) (\(Self.title(outcome.id))): \(failure)")
            } else if outcome.failure == nil, let reason {
                Issue.record("\(outcome.id) now passes: remove it from the expected failures (\(reason))")
            }
        }
        let passed = outcomes.filter { $0.failure == nil }.count
        print("yaml-test-suite: \(passed)/\(outcomes.count) cases pass, \(Self.expectedFailures.count) expected failures")
    }

    static func title(_ id: String) -> String {
        let path = suiteDirectory + "/" + id + "/==="
        return (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
    }
}
